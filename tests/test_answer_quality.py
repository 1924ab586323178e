"""Answer quality with the real default model over corpus/ (the seed and the official texts).

Floors from issue 3: the expected fact is in the answer for ≥ 85% of answerable questions,
≥ 80% of unanswerable ones are declined, and every quote is verbatim in its cited passage.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qa import Index, answer
from qa.sentences import LIST_ITEM

QUESTIONS = yaml.safe_load(
    (Path(__file__).parent / "data" / "answer_questions.yaml").read_text("utf-8")
)
ANSWERABLE = [q for q in QUESTIONS if q.get("answerable", True)]
UNANSWERABLE = [q for q in QUESTIONS if not q.get("answerable", True)]

pytestmark = pytest.mark.slow


def ask(index: Index, question: dict):
    history = []
    for earlier in question.get("history", []):
        reply = answer(earlier, index=index, history=history)
        history.append((earlier, reply.text))
    return answer(question["q"], index=index, history=history)


def has_fact(result, question: dict) -> bool:
    wanted = question["expect"]
    facts = wanted if isinstance(wanted, list) else [wanted]
    cited_docs = {c.passage.doc_id for c in result.citations}
    right_doc = "doc" not in question or question["doc"] in cited_docs
    return result.found and right_doc and any(fact in result.text for fact in facts)


@pytest.fixture(scope="module")
def results(real_index_dir) -> list:
    index = Index(real_index_dir)
    return [(q, ask(index, q)) for q in QUESTIONS]


def test_question_set_shape():
    assert len(QUESTIONS) >= 40
    assert len(UNANSWERABLE) >= 10
    assert sum("history" in q for q in QUESTIONS) >= 5
    assert any(q["q"].isascii() for q in ANSWERABLE)


def test_expected_fact_in_answer(results, capsys):
    answerable = [(q, r) for q, r in results if q.get("answerable", True)]
    misses = [(q["q"], r.query, r.text[:80]) for q, r in answerable if not has_fact(r, q)]
    rate = 1 - len(misses) / len(answerable)
    with capsys.disabled():
        print(f"\nexpected fact in answer: {rate:.3f} ({len(answerable)} questions)")
        for miss in misses:
            print("  miss:", miss)
    assert rate >= 0.85, misses


def test_unanswerable_declined(results, capsys):
    unanswerable = [(q, r) for q, r in results if not q.get("answerable", True)]
    answered = [(q["q"], r.text[:80]) for q, r in unanswerable if r.found]
    rate = 1 - len(answered) / len(unanswerable)
    with capsys.disabled():
        print(f"\nunanswerable declined: {rate:.3f} ({len(unanswerable)} questions)")
        for wrong in answered:
            print("  answered:", wrong)
    assert rate >= 0.80, answered
    for _, result in unanswerable:
        if not result.found:
            assert result.text in (
                "资料中没有找到相关内容。",
                "No relevant content was found in the documents.",
            )
            assert not result.citations


def test_every_quote_is_verbatim_and_marked(results):
    checked = 0
    for question, result in results:
        for citation in result.citations:
            assert citation.spans, (question["q"], citation.n)
            for quote in citation.quotes:
                assert quote and quote in citation.passage.text
                assert f"{quote}[{citation.n}]" in result.text, (question["q"], quote)
                checked += 1
        markers = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", result.text)}
        assert markers == {c.n for c in result.citations}, question["q"]
    assert checked >= len(ANSWERABLE)


def test_answers_stay_concise(results):
    for question, result in results:
        quotes = [quote for c in result.citations for quote in c.quotes]
        # The items of a list (一是…, short) may follow a lead-in; other quotes are prose.
        items = [q for q in quotes if LIST_ITEM.match(q) and len(q) <= 60]
        prose = [q for q in quotes if q not in items]
        assert len(prose) <= 3, question["q"]
        assert sum(map(len, prose)) <= 200 + 150, question["q"]  # one long sentence may pass
        assert len(items) <= 8, question["q"]


def test_a_list_lead_in_brings_its_items(real_index_dir):
    result = answer("中国控制甲烷排放有哪些安排？", index=Index(real_index_dir))
    assert "主要有五个方面的安排和打算：[1]" in result.text
    for item in ["一是开展甲烷排放控制研究。", "五是加强国际合作。"]:
        assert item in result.text
    assert [c.passage.paragraph for c in result.citations] == [12, 13, 14, 15, 16, 17]


def test_the_governing_provision_is_chosen_by_words_not_single_characters(real_index_dir):
    # 怎么算 and 施行后 give 算 and 后, which 第二十二条's 核算 holds; 清缴 is what is asked
    question = "未按时足额清缴配额，旧办法规定罚二万到三万元。条例施行后罚款怎么算？"
    first = answer(question, index=Index(real_index_dir)).citations[0]
    assert first.passage.doc_id == "carbon-trading-interim-regulations-2024.md"
    assert "清缴时限前1个月市场交易平均成交价格" in first.quotes[0]


def test_follow_up_query_is_resolved_and_returned(real_index_dir):
    index = Index(real_index_dir)
    first = answer("碳排放权交易管理暂行条例什么时候开始施行？", index=index)
    follow = answer("违反了会怎么处罚？", index=index, history=[(first.question, first.text)])
    assert follow.query != follow.question
    assert "碳排放权交易管理暂行条例" in follow.query
    assert follow.found
    assert all(
        c.passage.doc_id == "carbon-trading-interim-regulations-2024.md" for c in follow.citations
    )
