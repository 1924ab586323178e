"""The default embedder: the bundled model as int8 ONNX, exported once, close to fp32 torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.e5_convert import DEFAULT_MODEL_ID, MANIFEST_NAME
from qa.embedding import ONNX_MODEL_ID, load_embedder
from qa.onnx_model import MODEL_FILE, onnx_model_dir

pytestmark = pytest.mark.slow

TEXTS = [
    "碳排放权交易管理暂行条例自2024年5月1日起施行。",
    "中美双方将建立“21世纪20年代强化气候行动工作组”。",
    "加强煤矿瓦斯抽采利用，推进油气田甲烷泄漏检测与修复。",
    "What does the methane action plan require of coal mines?",
]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


def test_int8_vectors_stay_close_to_fp32_torch():
    int8, fp32 = load_embedder(ONNX_MODEL_ID), load_embedder(DEFAULT_MODEL_ID)
    assert int8.dim == fp32.dim == 384
    for embed in ("embed_queries", "embed_passages"):
        a, b = getattr(int8, embed)(TEXTS), getattr(fp32, embed)(TEXTS)
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
        assert np.min(np.sum(a * b, axis=1)) > 0.99
    # Ranking survives quantisation: each query's best passage is the same.
    queries = ["条例什么时候施行？", "中美建立了什么工作组？", "煤矿甲烷怎么控制？"]
    assert np.array_equal(
        np.argmax(int8.embed_queries(queries) @ int8.embed_passages(TEXTS).T, axis=1),
        np.argmax(fp32.embed_queries(queries) @ fp32.embed_passages(TEXTS).T, axis=1),
    )


def test_default_embedder_runs_without_torch():
    onnx_model_dir()  # exported by now, or export it in this process
    code = (
        "import sys; from qa.embedding import load_embedder; e = load_embedder(); "
        "e.embed_queries(['甲烷']); print(e.model_id, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [ONNX_MODEL_ID, "False"]


def test_export_is_cached_and_a_damaged_file_is_exported_again(cache_root):
    folder = onnx_model_dir(cache_root)
    manifest = json.loads((folder / MANIFEST_NAME).read_text("utf-8"))
    assert manifest["stamp"]["model_id"] == ONNX_MODEL_ID
    model = folder / MODEL_FILE
    size, mtime = model.stat().st_size, model.stat().st_mtime_ns
    assert onnx_model_dir(cache_root) == folder and model.stat().st_mtime_ns == mtime  # reused
    model.write_bytes(model.read_bytes()[: size // 2])
    assert onnx_model_dir(cache_root) == folder
    assert model.stat().st_size == size
    assert not list(folder.parent.glob("*.tmp-*"))  # nothing half-written left behind
