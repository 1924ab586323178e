"""Retrieval quality with the real default model over corpus/ (the seed and the official texts)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qa import Index

QUESTIONS = yaml.safe_load(
    (Path(__file__).parent / "data" / "retrieval_questions.yaml").read_text("utf-8")
)

pytestmark = pytest.mark.slow


def is_answer(passage, question: dict) -> bool:
    wanted = question["contains"]
    alternatives = wanted if isinstance(wanted, list) else [wanted]
    return passage.doc_id == question["doc"] and any(a in passage.text for a in alternatives)


def hit_rank(index: Index, question: dict, mode: str, k: int = 10) -> int | None:
    for rank, passage in enumerate(index.search(question["q"], k=k, mode=mode), 1):
        if is_answer(passage, question):
            return rank
    return None


@pytest.fixture(scope="module")
def index(real_index_dir) -> Index:
    return Index(real_index_dir)


def test_question_set_is_large_enough():
    assert len(QUESTIONS) >= 25
    assert sum(not q["q"].isascii() for q in QUESTIONS) >= 25


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_hit_rates(index, mode, capsys):
    ranks = [hit_rank(index, q, mode) for q in QUESTIONS]
    hit1 = sum(r == 1 for r in ranks) / len(ranks)
    hit5 = sum(r is not None and r <= 5 for r in ranks) / len(ranks)
    misses = [q["q"] for q, r in zip(QUESTIONS, ranks) if r is None or r > 5]
    with capsys.disabled():
        print(
            f"\n{mode:8s} hit@1 {hit1:.3f}  hit@5 {hit5:.3f}  ({len(ranks)} questions) misses: {misses}"
        )
    if mode == "hybrid":
        assert hit5 >= 0.9, misses


def test_english_question_finds_chinese_source(index):
    top = index.search("What are China's five arrangements for controlling methane emissions?", k=5)
    assert any(p.doc_id == "000_431dc65471ed79db.txt" for p in top)


def test_methane_question_cites_paragraph_12(index):
    top = index.search("中国控制甲烷排放有哪些安排？", k=3)
    assert ("000_431dc65471ed79db.txt", 12) in [(p.doc_id, p.paragraph) for p in top]
