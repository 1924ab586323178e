"""The labelled question set tests/data/policy_questions.yaml: shape, counts and verbatim labels.

Fast and model-free: it checks the data, not the answers. Every expected string must be copied
from the text the ingester produces for the named document, so a label can't drift from corpus/.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from qa.documents import iter_corpus_files, read_document

DATA = Path(__file__).parent / "data"
QUESTION_FILE = DATA / "policy_questions.yaml"
OLD_FILE = DATA / "answer_questions.yaml"
CORPUS = Path(__file__).resolve().parent.parent / "corpus"

KEYS = ("id", "q", "category", "split", "expect", "all_of", "doc", "locator", "history",
        "answerable", "batch", "note")  # fmt: skip
MINIMUM = {
    "article": 15, "penalty": 15, "list": 15, "target": 15, "section": 15, "deadline": 15,
    "person": 15, "followup": 15, "english": 15, "governing": 10, "repealed": 4, "refusal": 40,
    "general": 1,
}  # fmt: skip
CATEGORIES = set(MINIMUM)
MIN_TOTAL = 220
QUOTE_LENGTH = (4, 25)
MAX_ALL_OF = 4

REG = "carbon-trading-interim-regulations-2024.md"
OPINIONS = "carbon-peak-neutrality-opinions-2021.md"
SEED = "000_431dc65471ed79db.txt"
CCER = "ccer-trading-measures-2023.md"
# The cases a user reported: (question, history, category, doc, locator or None = not checked).
REPORTED = [
    ("重点排放单位虚报碳排放数据怎么处罚？", (), "governing", REG, "第二十二条"),
    ("重点排放单位在年度排放报告中篡改、伪造数据会受到什么处罚？", (), "penalty", REG, "第二十二条"),
    ("碳达峰碳中和意见提出了哪些主要目标？", (), "section", OPINIONS, "主要目标"),
    ("那2030年的目标呢？", ("碳达峰碳中和意见提出了哪些主要目标？",), "followup", OPINIONS, None),
    ("中美两国在甲烷方面达成了什么共识？", (), "list", SEED, None),
    ("碳价是多少？", (), "refusal", None, None),
    ("陆新明担任什么职务？", (), "person", SEED, None),
    ("项目设计文件公示期是多长时间？", (), "deadline", CCER, None),
]  # fmt: skip


def load_questions(path: Path) -> list[dict]:
    entries = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(entries, list), f"{path.name}: the top level must be a YAML list"
    return entries


def corpus_texts(corpus: Path) -> dict[str, str]:
    texts = {}
    for path in iter_corpus_files(corpus):
        document = read_document(path, corpus)
        texts[document.doc_id] = document.text
    return texts


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def shape_problems(entry: dict) -> list[str]:
    """Keys, their order and their types for one entry."""
    name = entry.get("id", entry.get("q", "?"))
    problems = [
        f"{name}: unknown key {key!r}; use one of {KEYS}" for key in entry if key not in KEYS
    ]
    known = [key for key in entry if key in KEYS]
    if known != sorted(known, key=KEYS.index):
        problems.append(f"{name}: keys {known} are out of order; write them in the order {KEYS}")
    for key in ("id", "q", "category", "split"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            problems.append(f"{name}: {key} is missing or empty")
    if entry.get("category") not in CATEGORIES:
        problems.append(f"{name}: category {entry.get('category')!r} is not one of {CATEGORIES}")
    if entry.get("split") not in ("dev", "test"):
        problems.append(f"{name}: split must be dev or test")
    category = entry.get("category")
    if isinstance(entry.get("id"), str) and not re.fullmatch(
        rf"c-{category}-\d{{2,}}", entry["id"]
    ):
        problems.append(f"{name}: id must be c-{category}-NN")
    history = entry.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) and h for h in history):
        problems.append(f"{name}: history must be a list of earlier questions")
    if "batch" in entry and (not isinstance(entry["batch"], int) or entry["batch"] < 1):
        problems.append(f"{name}: batch must be a positive whole number (the blind-written round)")
    if "note" in entry and (not isinstance(entry["note"], str) or "\n" in entry["note"]):
        problems.append(f"{name}: note must be one line")
    if category == "refusal":
        if entry.get("answerable") is not False:
            problems.append(f"{name}: a refusal needs answerable: false")
        for key in ("expect", "all_of", "doc", "locator"):
            if key in entry:
                problems.append(f"{name}: a refusal has no {key}; remove it")
    else:
        if "answerable" in entry:
            problems.append(f"{name}: answerable is only for refusals; remove it")
        if not entry.get("expect"):
            problems.append(f"{name}: expect is missing; quote the answer's key words")
    if len(as_list(entry.get("all_of", []))) > MAX_ALL_OF:
        problems.append(f"{name}: all_of has more than {MAX_ALL_OF} strings; keep the key ones")
    return problems


def label_problems(entry: dict, texts: dict[str, str]) -> list[str]:
    """expect/all_of/locator are verbatim in the named document (or, without doc, in some one)."""
    name = entry.get("id", "?")
    doc = entry.get("doc")
    if doc is not None and doc not in texts:
        return [f"{name}: doc {doc!r} is not a document of corpus/; use one of {sorted(texts)}"]
    sources = [texts[doc]] if doc else list(texts.values())
    where = doc or "any corpus document"
    problems = []
    for key in ("expect", "all_of"):
        for quote in as_list(entry.get(key, [])):
            if not isinstance(quote, str):
                problems.append(f"{name}: {key} {quote!r} must be a string; quote it in YAML")
                continue
            low, high = QUOTE_LENGTH
            if not low <= len(quote) <= high:
                problems.append(f"{name}: {key} {quote!r} has {len(quote)} characters; "
                                f"use {low}–{high}")  # fmt: skip
            if not any(quote in text for text in sources):
                problems.append(f"{name}: {key} {quote!r} is not in {where}; copy it verbatim")
    if "locator" in entry:
        if doc is None:
            problems.append(f"{name}: a locator needs a doc")
        elif entry["locator"] not in texts[doc]:
            problems.append(f"{name}: locator {entry['locator']!r} is not in {doc}")
    return problems


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return load_questions(QUESTION_FILE)


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return corpus_texts(CORPUS)


def key_of(entry: dict) -> tuple[str, tuple[str, ...]]:
    return entry["q"], tuple(entry.get("history", []))


def test_entries_have_known_keys_in_order_and_valid_values(questions):
    assert all(isinstance(entry, dict) for entry in questions), "every entry must be a mapping"
    problems = [problem for entry in questions for problem in shape_problems(entry)]
    assert not problems, "\n".join(problems)


def test_ids_and_questions_are_unique(questions):
    ids = Counter(entry["id"] for entry in questions)
    assert not [i for i, n in ids.items() if n > 1], "duplicate ids"
    asked = Counter(key_of(entry) for entry in questions)
    assert not [k for k, n in asked.items() if n > 1], "duplicate question with the same history"


def test_counts_per_category(questions):
    counts = Counter(entry["category"] for entry in questions)
    assert len(questions) >= MIN_TOTAL
    short = {c: (counts[c], n) for c, n in MINIMUM.items() if counts[c] < n}
    assert not short, f"categories below their minimum (have, need): {short}"


def test_splits_alternate_within_each_category(questions):
    by_category: dict[str, list[str]] = {}
    for entry in questions:
        by_category.setdefault(entry["category"], []).append(entry["split"])
    for category, splits in by_category.items():
        expected = ["dev" if i % 2 == 0 else "test" for i in range(len(splits))]
        assert splits == expected, f"{category}: splits must alternate dev, test, … in file order"
        assert {"dev", "test"} <= set(splits), f"{category}: needs both dev and test questions"


def test_each_blind_batch_is_split_evenly(questions):
    batches = Counter((q["batch"], q["split"]) for q in questions if "batch" in q)
    assert batches, "no blind-written batch: bench.answerability has nothing to hold out"
    for batch in {b for b, _ in batches}:
        assert batches[(batch, "dev")] == batches[(batch, "test")], f"batch {batch}: dev ≠ test"


def test_expected_strings_and_locators_are_verbatim(questions, texts):
    assert len(texts) == 9, f"expected the nine documents of corpus/, found {sorted(texts)}"
    problems = [problem for entry in questions for problem in label_problems(entry, texts)]
    assert not problems, "\n".join(problems)


def test_every_old_question_is_included(questions):
    old = {key_of(entry) for entry in load_questions(OLD_FILE)}
    missing = old - {key_of(entry) for entry in questions}
    assert not missing, f"questions of {OLD_FILE.name} missing from {QUESTION_FILE.name}: {missing}"


def test_reported_cases_are_labelled_as_reported(questions):
    by_key = {key_of(entry): entry for entry in questions}
    for question, history, category, doc, locator in REPORTED:
        entry = by_key.get((question, history))
        assert entry, f"reported question {question!r} is missing"
        assert (entry["category"], entry.get("doc")) == (category, doc), question
        if locator:
            assert entry.get("locator") == locator, question
    allowance_price = [e for e in questions if e["category"] == "refusal" and "价格" in e["q"]]
    assert allowance_price, "a refusal on today's allowance price is missing"
    penalty = by_key[("重点排放单位虚报碳排放数据怎么处罚？", ())]
    assert "50万元以上200万元以下的罚款" in penalty["expect"]
    follow = by_key[("那2030年的目标呢？", ("碳达峰碳中和意见提出了哪些主要目标？",))]
    kept = " ".join(follow["all_of"])
    assert all(figure in kept for figure in ("65%", "25%左右", "12亿千瓦"))


def test_checks_catch_broken_labels(texts):
    """The checks above must be able to fail: a few broken entries, each caught."""
    good = {
        "id": "c-penalty-01", "q": "罚多少？", "category": "penalty", "split": "dev",
        "expect": ["50万元以上200万元以下的罚款"], "doc": REG, "locator": "第二十二条",
    }  # fmt: skip
    assert shape_problems(good) == [] and label_problems(good, texts) == []
    only_in_2020 = dict(good, expect=["一万元以上三万元以下的罚款"])
    assert label_problems(only_in_2020, texts)
    assert label_problems(dict(good, expect=["50万"]), texts)  # too short
    assert label_problems(dict(good, locator="第九十九条"), texts)
    assert label_problems(dict(good, doc="missing.md"), texts)
    assert shape_problems(dict(good, anwser="x"))
    assert shape_problems({key: good[key] for key in ("q", "id", "category", "split")})  # order
    refusal = {"id": "c-refusal-01", "q": "碳价是多少？", "category": "refusal", "split": "dev"}
    assert shape_problems(refusal)  # no answerable: false
    assert shape_problems(dict(refusal, expect=["50万元以上"], answerable=False))
    assert shape_problems(dict(good, id="c-list-01"))
