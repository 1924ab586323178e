"""Answer feedback: checked records, whole lines under concurrency, and the CLI export."""

from __future__ import annotations

import csv
import importlib
import io
import json
import threading

import pytest
from conftest import MARKET, METHANE
from fakes import FakeEmbedder

from qa import Index, answer, build_index
from qa.cli import main
from qa.conversations import turn_record
from qa.feedback import add_feedback, export, feedback_path, read_feedback

REGULATION = """---
title: 碳排放权交易管理暂行条例
issuer: 国务院
date: 2024-02-04
---

**第一条**　为了规范碳排放权交易及相关活动，制定本条例。

**第二条**　本条例自2024年5月1日起施行。

**第三条**　技术服务机构出具虚假检验检测报告的，处2万元以上10万元以下的罚款。
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Index:
    root = tmp_path_factory.mktemp("feedback")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in {"methane.md": METHANE, "market.md": MARKET,
                       "regulation.md": REGULATION}.items():  # fmt: skip
        (corpus / name).write_text(text, encoding="utf-8")
    embedder = FakeEmbedder()
    build_index([corpus], root / "index", embedder=embedder)
    return Index(root / "index", embedder=embedder)


@pytest.fixture
def found(index, monkeypatch):
    # The no-answer cosine floor is calibrated for the real model, not the fake (test_trust.py).
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    result = answer("条例什么时候开始施行？", index=index)
    assert result.found and result.citations
    return result


def test_a_rating_is_stored_as_one_json_line(tmp_path, found):
    record = add_feedback(tmp_path, found, -1, "  引用不完整  ", user="alice")
    add_feedback(tmp_path, found, 1)
    lines = feedback_path(tmp_path).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == record
    assert (record["rating"], record["comment"], record["user"]) == (-1, "引用不完整", "alice")
    assert (record["question"], record["answer"]) == (found.question, found.text)
    passage = found.citations[0].passage
    assert record["citations"][0] == {"n": 1, "passage_id": passage.passage_id,
                                      "doc_id": "regulation.md", "provision": "第二条",
                                      "paragraph": passage.paragraph}  # fmt: skip
    second = json.loads(lines[1])
    assert (second["rating"], second["comment"], second["user"]) == (1, "", None)


def test_a_saved_turn_gives_the_same_record_as_its_answer(tmp_path, found):
    from_answer = add_feedback(tmp_path, found, 1)
    from_turn = add_feedback(tmp_path, turn_record(found), 1)
    keys = ("question", "answer", "citations", "rating")
    assert {k: from_turn[k] for k in keys} == {k: from_answer[k] for k in keys}


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"rating": 0}, "rating"), ({"rating": 2}, "rating"), ({"rating": True}, "rating"),
     ({"rating": "1"}, "rating"), ({"rating": None}, "rating"),
     ({"comment": "长" * 1001}, "1000-character limit"), ({"comment": ["x"]}, "comment"),
     ({"user": "../etc"}, "user key"), ({"user": ""}, "user key")],
)  # fmt: skip
def test_bad_feedback_is_refused_and_nothing_is_written(tmp_path, found, fields, message):
    arguments = {"rating": 1, "comment": "", "user": None} | fields
    with pytest.raises(ValueError, match=message):
        add_feedback(tmp_path, found, **arguments)
    assert not feedback_path(tmp_path).exists()


def test_a_comment_of_exactly_1000_characters_is_kept(tmp_path, found):
    assert add_feedback(tmp_path, found, 1, "字" * 1000)["comment"] == "字" * 1000


def test_concurrent_appends_lose_or_interleave_no_line(tmp_path, found):
    errors = []

    def work(i: int) -> None:
        try:
            for j in range(40):  # long comments: lines of several kilobytes
                add_feedback(tmp_path, found, 1 if j % 2 else -1, f"{i}-{j}:" + "评" * 990)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    lines = feedback_path(tmp_path).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line is one whole record
    assert len(records) == 320
    seen = {r["comment"].split(":")[0] for r in records}
    assert seen == {f"{i}-{j}" for i in range(8) for j in range(40)}


def test_cli_exports_jsonl_to_a_file(tmp_path, found, capsys):
    add_feedback(tmp_path, found, 1, "好", user="alice")
    add_feedback(tmp_path, found, -1, "不对")
    out = tmp_path / "out.jsonl"
    assert main(["feedback", "--export", str(out), "--index-dir", str(tmp_path)]) == 0
    assert "exported 2 feedback records" in capsys.readouterr().out
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert exported == read_feedback(tmp_path)[0]
    assert [r["comment"] for r in exported] == ["好", "不对"]


def test_cli_exports_csv_with_formulas_defused(tmp_path, found, capsys):
    add_feedback(tmp_path, found, -1, '=HYPERLINK("http://evil.example","x")', user="bob")
    add_feedback(tmp_path, found, 1, "有用, 谢谢\n第二行")
    out = tmp_path / "out.csv"
    argv = ["feedback", "--export", str(out), "--format", "csv", "--index-dir", str(tmp_path)]
    assert main(argv) == 0
    assert "exported 2 feedback records" in capsys.readouterr().out
    with open(out, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["rating"] for r in rows] == ["-1", "1"]
    assert rows[0]["comment"] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[1]["comment"] == "有用, 谢谢\n第二行"
    assert (rows[0]["user"], rows[1]["user"]) == ("bob", "")
    assert json.loads(rows[0]["doc_ids"]) == ["regulation.md"]
    assert json.loads(rows[0]["provisions"]) == ["第二条"]
    assert rows[0]["question"] == found.question and rows[0]["answer"] == found.text


def test_cli_exports_to_stdout_with_the_count_on_stderr(tmp_path, found, capsys):
    add_feedback(tmp_path, found, 1)
    assert main(["feedback", "--export", "-", "--index-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["rating"] for line in captured.out.splitlines()] == [1]
    assert "exported 1 feedback records" in captured.err


def test_cli_without_feedback_says_so_and_succeeds(tmp_path, capsys):
    out = tmp_path / "out.csv"
    argv = ["feedback", "--export", str(out), "--format", "csv", "--index-dir", str(tmp_path)]
    assert main(argv) == 0
    assert "no feedback yet" in capsys.readouterr().out
    assert not out.exists()


def test_a_torn_line_is_skipped_on_export(tmp_path, found, caplog):
    add_feedback(tmp_path, found, 1)
    with open(feedback_path(tmp_path), "a", encoding="utf-8") as file:
        file.write('{"time": "2024-01-01T00:00:00+00:00", "rat')  # a crash mid-write
    buffer = io.StringIO()
    assert export(buffer, "jsonl", index_dir=tmp_path) == 1
    assert len(buffer.getvalue().splitlines()) == 1
    assert "skipped 1 unreadable lines" in caplog.text
    add_feedback(tmp_path, found, -1)  # the next record starts on a line of its own
    records, bad = read_feedback(tmp_path)
    assert bad == 1 and [r["rating"] for r in records] == [1, -1]


def test_an_unknown_export_format_is_refused(tmp_path, found):
    add_feedback(tmp_path, found, 1)
    with pytest.raises(ValueError, match="jsonl, csv"):
        export(io.StringIO(), "xml", index_dir=tmp_path)
