"""qa.answer over the tiny corpus with the fake embedder: shape, citations, no-answer, follow-ups."""

from __future__ import annotations

import importlib
import json
import re

import pytest

from qa import Answer, Index, ResolvedQuery, answer, build_index, stream_answer
from qa.answer import NOT_FOUND, NOT_FOUND_EN
from qa.followup import is_follow_up, resolve_query


@pytest.fixture
def index(tiny_corpus, tmp_path, fake_embedder, monkeypatch) -> Index:
    # The no-answer thresholds are calibrated for the real model's cosines; the bigram-hash
    # fake scores lower, so only the lexical evidence decides here.
    # (the thresholds live in qa.evidence)
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    return Index(tmp_path / "index", embedder=fake_embedder)


def assert_verbatim(result: Answer) -> None:
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", result.text)}
    assert markers == {c.n for c in result.citations}
    assert [c.n for c in result.citations] == list(range(1, len(result.citations) + 1))
    for citation in result.citations:
        assert citation.spans
        for (start, end), quote in zip(citation.spans, citation.quotes):
            assert citation.passage.text[start:end] == quote
            assert f"{quote}[{citation.n}]" in result.text


def test_answer_quotes_and_cites_the_paragraph(index):
    result = answer("未按时足额清缴碳排放配额会受到什么处理？", index=index)
    assert result.found
    assert "处以罚款" in result.text
    assert result.citations[0].passage.doc_id == "market.md"
    assert result.citations[0].passage.paragraph == 2
    assert result.citations[0].passage.date == "2024-02-04"
    assert_verbatim(result)


def test_number_question_prefers_the_sentence_with_the_number(index):
    result = answer("全国新能源公交车保有量超过多少？", index=index)
    assert result.found
    assert "五十万辆" in result.text
    assert_verbatim(result)


def test_answer_stays_concise(index):
    result = answer("甲烷排放控制有哪些重点任务？", index=index, k=8)
    quotes = [q for c in result.citations for q in c.quotes]
    assert 1 <= len(quotes) <= 3
    assert sum(map(len, quotes)) <= 200


def test_unanswerable_question_is_declined_with_related_reading(index):
    result = answer("个人所得税专项附加扣除标准是多少？", index=index)
    assert not result.found
    assert result.text == NOT_FOUND
    assert result.citations == ()
    assert result.related  # closest passages, offered as reading, not as an answer


def test_english_decline_is_in_english(index):
    result = answer("What is the minimum wage in Shanghai?", index=index)
    assert not result.found
    assert result.text == NOT_FOUND_EN


@pytest.mark.parametrize("question", ["", "   \n\t", "，。！？", "？" * 50, "碳" * 20_000])
def test_odd_questions_get_an_answer_not_an_exception(index, question):
    result = answer(question, index=index)
    assert isinstance(result, Answer)
    assert result.text
    assert len(result.query) <= 512


@pytest.mark.parametrize(
    ("question", "k"), [(None, 5), (42, 5), ("配额", 0), ("配额", -1), ("配额", True)]
)
def test_bad_arguments_raise_value_error(index, question, k):
    with pytest.raises(ValueError):
        answer(question, k, index=index)


def test_bad_date_filter_is_a_value_error(index):
    with pytest.raises(ValueError, match="date"):
        answer("配额", index=index, date_from="last year")


def test_docs_filter_limits_the_citations(index):
    result = answer("碳排放配额", index=index, docs=["methane.md"])
    assert all(c.passage.doc_id == "methane.md" for c in result.citations)
    assert all(p.doc_id == "methane.md" for p in result.related)


def test_stream_yields_resolved_query_then_text_then_answer(index):
    events = list(stream_answer("未按时足额清缴碳排放配额会受到什么处理？", index=index))
    assert isinstance(events[0], ResolvedQuery)
    assert isinstance(events[-1], Answer)
    deltas = events[1:-1]
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == events[-1].text


def test_to_dict_is_json(index):
    result = answer("未按时足额清缴碳排放配额会受到什么处理？", index=index)
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert data["found"] is True
    first = data["citations"][0]
    assert first["n"] == 1 and first["title"] == "碳市场配额管理说明" and first["paragraph"] == 2
    assert first["quotes"][0] in first["text"]


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        ("那2030年的目标呢？", True),
        ("违反了会怎么处罚？", True),
        ("它替代了哪个文件？", True),
        ("What about 2030?", True),
        ("要在哪些地方公布？", True),  # no subject: the list just asked about
        ("是在哪个会议期间发布的？", True),
        ("他是哪天签署的？", True),
        ("中国控制甲烷排放有哪些安排？", False),
        ("省级生态环境主管部门要在哪些网站公布名录？", False),
        ("碳排放权交易管理暂行条例什么时候开始施行？", False),
    ],
)
def test_follow_up_detection(question, follow_up):
    assert is_follow_up(question) is follow_up


def test_follow_up_is_joined_with_the_topic_of_the_chat():
    history = [("碳达峰碳中和意见提出的2025年主要目标是什么？", "到2025年……[1]")]
    resolved = resolve_query("那2030年的目标呢？", history)
    assert resolved.follow_up
    assert "碳达峰碳中和意见" in resolved.query
    assert "2030年" in resolved.query
    assert "2025" not in resolved.query  # the new year replaces the old one
    # a quoted part replaces the quoted part
    history = [("甲烷方案的工作原则里“坚持统筹协调”是怎么说的？", "坚持统筹协调。……[1]")]
    resolved = resolve_query("那“坚持夯实基础”呢？", history)
    assert "甲烷方案" in resolved.query and "坚持夯实基础" in resolved.query
    assert "统筹协调" not in resolved.query


def test_a_text_named_by_year_and_kind_carries_into_the_follow_up():
    history = [("2020年那个碳交易管理办法，排放报告每年几号之前要报？", "……[1]")]
    # 相关… opens on what was just discussed
    resolved = resolve_query("相关原始记录和台账要留几年？", history)
    assert resolved.follow_up
    assert "2020年那个碳交易管理办法" in resolved.query
    # a follow-up with a year of its own asks of that year
    resolved = resolve_query("那2023年的呢？", history)
    assert "2020年那个" not in resolved.query


def test_follow_up_accepts_chat_messages():
    history = [
        {"role": "user", "content": "碳排放权交易管理暂行条例什么时候开始施行？"},
        {"role": "assistant", "content": "自2024年5月1日起施行。[1]"},
    ]
    resolved = resolve_query("违反了会怎么处罚？", history)
    assert "碳排放权交易管理暂行条例" in resolved.query


def test_a_question_with_its_own_topic_ignores_the_history():
    history = [("碳排放权交易管理暂行条例什么时候开始施行？", "")]
    resolved = resolve_query("中国控制甲烷排放有哪些安排？", history)
    assert not resolved.follow_up
    assert resolved.query == "中国控制甲烷排放有哪些安排？"


def test_follow_up_answer_searches_the_resolved_query(index):
    first = answer("碳排放配额怎么分配？", index=index)
    follow = answer("未按时清缴会怎么处罚？", index=index, history=[(first.question, first.text)])
    assert follow.found
    assert "罚款" in follow.text


def test_a_lead_in_ending_in_a_colon_brings_the_list_items(tmp_path, fake_embedder, monkeypatch):
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plan.md").write_text(
        "# 林业碳汇工作要点\n\n"
        "为提升生态系统碳汇能力，林业碳汇工作主要有三项重点任务：\n\n"
        "一是扩大森林面积。持续开展国土绿化行动，科学推进造林绿化，每年完成造林任务。\n\n"
        "二是提升森林质量。实施森林质量精准提升工程，加强中幼林抚育和退化林修复。\n\n"
        "三是完善碳汇计量监测体系。建立覆盖全国的林业碳汇计量监测网络，定期发布监测数据。\n\n"
        "各地要结合实际抓好落实，确保各项任务按期完成并取得实效。\n",
        encoding="utf-8",
    )
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    index = Index(tmp_path / "index", embedder=fake_embedder)
    result = answer("林业碳汇工作有哪些重点任务？", index=index)
    # Short items stay in the lead-in's paragraph (see chunking): one passage, one marker.
    assert result.text.startswith("为提升生态系统碳汇能力，林业碳汇工作主要有三项重点任务：")
    assert "一是扩大森林面积。[1]二是提升森林质量。[1]三是完善碳汇计量监测体系。[1]" in result.text
    assert [c.passage.paragraph for c in result.citations] == [2]
    assert "抓好落实" not in result.text and "持续开展" not in result.text
    assert_verbatim(result)


def test_list_items_in_their_own_paragraphs_are_cited_one_by_one(
    tmp_path, fake_embedder, monkeypatch
):
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    detail = "各地要制定实施方案，明确责任分工和时间节点，加强资金保障和监督考核，定期调度工作进展，及时总结推广经验做法，确保各项措施落地见效，并将落实情况纳入年度目标责任考核。"
    (corpus / "plan.md").write_text(
        "# 林业碳汇工作要点\n\n"
        "为提升生态系统碳汇能力，林业碳汇工作主要有三项重点任务：\n\n"
        f"一是扩大森林面积。{detail}\n\n"
        f"二是提升森林质量。{detail}\n\n"
        f"三是完善碳汇计量监测体系。{detail}\n\n"
        "以上任务由国家林业和草原局会同有关部门组织实施，各地抓好落实。\n",
        encoding="utf-8",
    )
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    index = Index(tmp_path / "index", embedder=fake_embedder)
    result = answer("林业碳汇工作有哪些重点任务？", index=index)
    assert (
        "重点任务：[1]一是扩大森林面积。[2]二是提升森林质量。[3]三是完善碳汇计量监测体系。[4]"
        in result.text
    )
    assert [c.passage.paragraph for c in result.citations] == [2, 3, 4, 5]
    assert_verbatim(result)


def test_near_duplicate_sentences_from_syndicated_copies_are_quoted_once(
    tmp_path, fake_embedder, monkeypatch
):
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    story = "生态环境部表示，全国碳排放权交易市场将于今年扩大覆盖范围，新纳入钢铁、水泥和铝冶炼三个行业{}。"
    for portal, tail in [("portal-a", ""), ("portal-b", "的重点排放单位")]:
        (corpus / f"{portal}.md").write_text(
            f"# 全国碳市场扩围（{portal}）\n\n{story.format(tail)}\n\n记者从会上获悉，相关配额分配方案正在征求意见。\n",
            encoding="utf-8",
        )
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    index = Index(tmp_path / "index", embedder=fake_embedder)
    result = answer("全国碳市场新纳入了哪些行业？", index=index)
    assert result.found
    assert result.text.count("新纳入钢铁、水泥和铝冶炼") == 1
    assert_verbatim(result)


def test_the_next_sentence_of_a_paragraph_is_no_duplicate_of_a_short_one():
    from qa.sentences import Sentence, _fits

    short = Sentence(0, 0, 30, "可燃性气体回收利用装置不能正常作业的，应当及时修复或者更新。")
    longer = ("在回收利用装置不能正常作业期间确需排放可燃性气体的，应当将排放的可燃性气体充分燃烧，"
              "并向当地生态环境主管部门报告，按照要求限期修复或者更新。")  # fmt: skip
    # it shares most of the short one's words, and says what to do meanwhile
    assert _fits(Sentence(0, 30, 30 + len(longer), longer), [short])
    # the same words in another passage (a syndicated copy) are a duplicate
    copy = "可燃性气体回收利用装置不能正常作业的，应当及时修复或者更新，并报告。"
    assert not _fits(Sentence(1, 0, len(copy), copy), [short])


def test_a_sentence_vector_does_not_depend_on_the_sentences_embedded_with_it():
    # The int8 model quantises activations per batch: a sentence embedded beside others gets a
    # slightly different vector, and answers would then depend on what was asked before.
    from types import SimpleNamespace

    import numpy as np

    from qa.sentences import _embed, clear_vector_cache
    from tests.fakes import FakeEmbedder

    class BatchSensitive(FakeEmbedder):
        def embed_passages(self, texts, progress=None):
            vectors = super().embed_passages(texts, progress) + 0.05 * len(texts)
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    index = SimpleNamespace(embedder=BatchSensitive())
    clear_vector_cache()
    alone = _embed(index, ["配额清缴期限为每年年底。"])[0]
    clear_vector_cache()
    together = _embed(index, ["第一句话。", "配额清缴期限为每年年底。", "第三句话。"])[1]
    clear_vector_cache()
    assert np.allclose(alone, together)
