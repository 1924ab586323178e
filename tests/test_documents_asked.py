"""Which document and which article a question asks for, and when a cited article is only its
premise, on tiny corpora and the fake embedder: a level of law (法律里有没有写), a loose name two
texts answer to (试行办法第十八条), an article cited for what it said (第二十五条说…，那…), one of a
text the library doesn't hold (《巴黎协定》第六条), and English names of documents."""

from __future__ import annotations

import pytest
from test_trust import small_library

RULES = """---
title: 碳排放权交易管理暂行条例
---

第一条　为了规范碳排放权交易，制定本条例。

第二条　重点排放单位未按照规定公开信息的，处5万元以上50万元以下的罚款；拒不改正的，可以责令停产整治。

第三条　重点排放单位篡改数据的，处50万元以上200万元以下的罚款；拒不改正的，按照50%以上100%以下的比例核减其下一年度碳排放配额。
"""


def test_a_share_asked_of_an_article_that_states_none_is_not_there(
    tmp_path, fake_embedder, monkeypatch
):
    from qa import answer
    from qa.answer_types import required_shape

    library = small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": RULES})
    shape = required_shape("拒不改正的，按多大比例核减？", "number")
    assert not shape.search("处5万元以上50万元以下的罚款") and shape.search("按照50%以上")
    cut = answer("暂行条例第三条规定，拒不改正的，配额按多大比例核减？", index=library)
    assert cut.found and "50%以上100%以下" in cut.text
    assert not answer("暂行条例第二条规定，拒不改正的，配额按多大比例核减？", index=library).found
    assert answer("暂行条例第二条讲的是什么？", index=library).found


def test_an_english_question_names_the_air_pollution_law(tmp_path, fake_embedder, monkeypatch):
    from qa import answer
    from qa.crosslingual import english_terms

    # 防治 is how the law's title says "prevention and control"
    assert {"防治"} in english_terms("the Air Pollution Prevention and Control Law")
    law = """---
title: 中华人民共和国大气污染防治法（节选）
---

## 第一章 总则

第一条 为保护和改善环境，防治大气污染，制定本法。

第二条 防治大气污染，应当以改善大气环境质量为目标。

第四条 城市人民政府可以划定并公布高污染燃料禁燃区。
"""
    library = small_library(tmp_path, fake_embedder, monkeypatch,
                            {"air.md": law, "rules.md": RULES})  # fmt: skip
    asked = "What does Article {} of China's Air Pollution Prevention and Control Law provide?"
    assert "禁燃区" in answer(asked.format(4), index=library).text
    # the excerpt has no 第三条: the rules' 第三条 is not its
    assert not answer(asked.format(3), index=library).found


REVIEW = """---
title: 固定资产投资项目节能审查和碳排放评价办法
---

第一条　为了完善节能审查制度，制定本办法。

第二条　擅自开工建设的项目，由管理节能工作的部门责令停止建设，限期整改；整改不到位的生产性项目，报请本级人民政府按照国务院规定的权限责令关闭。

第三条　以拆分项目等不正当手段通过节能审查的项目，由节能审查机关撤销节能审查意见。项目已开工建设的，按本办法第二条有关规定进行处罚。
"""


def test_a_provision_that_cites_another_for_its_penalty_brings_it(
    tmp_path, fake_embedder, monkeypatch
):
    from qa.citing import with_cited_articles
    from qa.sentences import Sentence

    library = small_library(tmp_path, fake_embedder, monkeypatch, {"review.md": REVIEW})
    citing = library.provision("review.md", "第三条")
    quote = [Sentence(0, 0, len(citing[0].text), citing[0].text)]
    passages, picked = with_cited_articles(library, list(citing), quote)
    assert [passages[s.rank].provision for s in picked] == ["第三条", "第二条"]
    assert "责令关闭" in picked[1].text
    # a quote of the cited article already there is not repeated
    cited = library.provision("review.md", "第二条")
    both = [*citing, *cited]
    quotes = [quote[0], Sentence(1, 0, len(cited[0].text), cited[0].text)]
    assert with_cited_articles(library, both, quotes) == (both, quotes)


def test_articles_asked_together_are_each_quoted(tmp_path, fake_embedder, monkeypatch):
    from qa import answer

    library = small_library(tmp_path, fake_embedder, monkeypatch, {"review.md": REVIEW})
    both = answer("节能审查和碳排放评价办法第二条、第三条分别讲了什么？", index=library)
    assert [c.passage.provision for c in both.citations] == ["第二条", "第三条"]
    one = answer("节能审查和碳排放评价办法第三条讲了什么？", index=library)
    assert [c.passage.provision for c in one.citations] == ["第三条"]


def test_an_english_question_names_a_document_by_its_kind_and_year():
    from qa.crosslingual import english_terms
    from qa.naming import named_in_english_by_year

    documents = [{"doc_id": "ccer.md", "title": "温室气体自愿减排交易管理办法（试行）"},
                 {"doc_id": "ets.md", "title": "碳排放权交易管理办法（试行）"},
                 {"doc_id": "regs.md", "title": "碳排放权交易管理暂行条例"}]  # fmt: skip
    years = {"ccer.md": {"2023"}, "ets.md": {"2020", "2021"}, "regs.md": {"2024"}}
    question = "What does Article 30 of the 2023 CCER measures say?"
    assert named_in_english_by_year(question, english_terms(question), documents, years) == [
        "ccer.md"
    ]
    other = "What does Article 30 of the 2022 measures say?"
    assert not named_in_english_by_year(other, english_terms(other), documents, years)


def test_an_article_of_a_loose_name_two_texts_answer_to_is_quoted_from_each(
    tmp_path, fake_embedder, monkeypatch
):
    from qa import answer

    def measures(title: str, second: str) -> str:
        return (f"---\ntitle: {title}\n---\n\n第一条　为了规范交易及相关活动，加强对温室气体排放的"
                f"控制，根据有关法律法规，制定本办法。\n\n第二条　{second}\n\n"
                "第三条　本办法自公布之日起施行，由生态环境部负责解释，此前发布的有关规定与本办法"
                "不一致的，以本办法为准。\n")  # fmt: skip

    library = small_library(tmp_path, fake_embedder, monkeypatch, {
        "ets.md": measures("碳排放权交易管理办法（试行）", "重点排放单位发生合并、分立等情形需要变更碳排放配额等事项的，应当报经省级生态环境主管部门审核后申请变更登记。"),
        "ccer.md": measures("温室气体自愿减排交易管理办法（试行）", "项目业主申请项目减排量登记的，应当按照项目方法学等相关技术规范要求编制减排量核算报告。"),
        "review.md": REVIEW,
    })  # fmt: skip
    both = answer("试行办法第二条讲的是啥？", index=library)
    assert {c.passage.doc_id for c in both.citations} == {"ets.md", "ccer.md"}
    # a second question after it (管的是谁？) asks of the article too
    again = answer("试行办法第二条讲的是啥？管的是谁？", index=library)
    assert {c.passage.doc_id for c in again.citations} == {"ets.md", "ccer.md"}
    assert "《碳排放权交易管理办法（试行）》第二条" in both.text
    assert "《温室气体自愿减排交易管理办法（试行）》第二条" in both.text
    # a figure asked of the article is searched and weighed, not looked up in both
    asked = answer("试行办法第二条说的变更登记，要在多少天内申请？", index=library)
    assert "项目业主" not in asked.text


def test_a_status_asked_of_another_thing_than_the_text_is_not_the_texts(
    tmp_path, fake_embedder, monkeypatch
):
    from test_trust import NEW_REVIEW

    from qa.doc_questions import status_quotes

    index = small_library(tmp_path, fake_embedder, monkeypatch, {"review-new.md": NEW_REVIEW})
    named = ["review-new.md"]
    opinion = "项目的节能审查意见是2024年出具的，按节能审查和碳排放评价办法，这份意见还有效吗？"
    assert status_quotes(index, opinion, named) is None
    assert status_quotes(index, "节能审查和碳排放评价办法还有效吗？", named) is not None
    repealed_by = "节能审查和碳排放评价办法被暂行条例废止了吗？"
    assert status_quotes(index, repealed_by, named) is not None


def test_a_repealed_text_is_asked_by_the_tail_of_its_title(tmp_path, fake_embedder, monkeypatch):
    from test_trust import NEW_REVIEW

    from qa import answer

    longer = NEW_REVIEW.replace("原《节能审查办法》", "原《固定资产投资项目节能审查办法》")
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"review-new.md": longer})
    repealed = answer("节能审查办法还适用吗？", index=library)
    assert repealed.text.startswith("《固定资产投资项目节能审查办法》已废止")


def test_a_level_of_law_asked_for_is_the_text_of_that_level(tmp_path, fake_embedder, monkeypatch):
    from test_trust import MEASURES, REGULATION

    from qa import answer
    from qa.naming import named_by_level

    documents = [{"doc_id": "law"}, {"doc_id": "regulation"}, {"doc_id": "measures"}]
    levels = {"law": "法律", "regulation": "行政法规", "measures": "部门规章"}
    assert named_by_level("这只是号召吗？法律里有没有写？", documents, levels) == ["law"]
    assert named_by_level("现在按上位的行政法规怎么说？", documents, levels) == ["regulation"]
    for other in ("第五章法律责任有几条？", "意见要求健全法律法规", "意见要修订哪几部法律？"):
        assert named_by_level(other, documents, levels) == []

    library = small_library(tmp_path, fake_embedder, monkeypatch,
                            {"regulation.md": REGULATION, "measures.md": MEASURES})  # fmt: skip
    # Which text leads, whatever the fitted decision makes of the fake embedder's features (a
    # coverage of 0.31 sits on its threshold).
    from qa import evidence

    monkeypatch.setattr(evidence, "BIAS", 1e9)
    # The premise quotes the 办法; the question asks what the regulation above it says.
    result = answer("试行办法第二条说虚报排放报告罚一万元以上三万元以下，行政法规里篡改数据是怎么罚的？",
                    index=library)  # fmt: skip
    assert result.citations[0].passage.title == "碳排放权交易管理暂行条例"
    assert "50万元以上200万元以下" in result.text


def test_an_article_cited_for_what_it_said_is_not_the_rule_asked_for_now(
    tmp_path, fake_embedder, monkeypatch
):
    from test_trust import MEASURES, REGULATION

    from qa import answer

    library = small_library(tmp_path, fake_embedder, monkeypatch,
                            {"regulation.md": REGULATION, "measures.md": MEASURES})  # fmt: skip
    now = answer(
        "试行办法第二条说虚报要罚一万元以上三万元以下，现在篡改、伪造数据怎么罚？", index=library
    )
    assert now.found and now.citations[0].passage.doc_id == "regulation.md"
    assert "50万元以上200万元以下" in now.text
    # asked what the article says, it is looked up
    said = answer("试行办法第二条讲的是什么？", index=library)
    assert said.citations[0].passage.doc_id == "measures.md"
    # an article of a text the library doesn't hold is none of the library's
    from qa.provisions import lookup_article

    assert lookup_article(library, "《巴黎协定》第四条对报告有什么要求？", []) == []
    assert lookup_article(library, "《碳排放权交易管理暂行条例》第二条讲什么？", ["regulation.md"])


@pytest.mark.parametrize(
    ("question", "premise"),
    [
        ("大气污染防治法第四条规定考核结果要向社会公开，那主要负责人会不会被约谈？", True),
        ("试行办法第二十五条说排放报告要定期公开，但涉及商业秘密的除外。现在呢？", True),
        ("暂行条例第七条说哪些人不能参与碳排放权交易？", False),
        ("2020年试行办法第二十二条写的是什么？别跟条例第二十二条搞混了。", False),
        ("条例第十条要求广泛征求意见的，是依照第六条的哪几项事项？", False),
    ],
)
def test_an_article_cited_for_what_it_said_is_the_premise(question, premise):
    from qa.naming import cites_as_premise

    assert cites_as_premise(question) is premise


def test_a_year_an_english_question_names_a_document_by_is_no_year_asked():
    from qa.naming import english_document_years

    question = ("Under the 2020 trial measures the fine was 10,000 to 30,000 yuan. What does the "
                "2024 interim regulation impose now, and what targets does it set for 2030?")  # fmt: skip
    assert english_document_years(question) == {"2020", "2024"}


def test_the_words_naming_an_english_questions_document_are_not_searched_for():
    from qa.crosslingual import english_query
    from qa.naming import english_names

    question = "Under the 2020 trial measures (MEE order 19), who publishes how units surrendered?"
    query = english_query(question)
    unnamed = query.without_names(*english_names(question, ["碳排放权交易管理办法（试行）"]))
    assert {"试行", "办法", "责令"} & set(query.terms)
    assert not {"试行", "办法", "责令", "2020", "19"} & set(unnamed.terms)
    assert "清缴" in unnamed.terms


def test_an_article_asked_what_it_does_not_name_is_not_the_answer(
    tmp_path, fake_embedder, monkeypatch
):
    from test_trust import REGULATION

    from qa import answer

    library = small_library(tmp_path, fake_embedder, monkeypatch, {"regulation.md": REGULATION})
    court = "依照暂行条例第四条被罚款的技术服务机构不服，应当向哪个法院起诉？"
    assert not answer(court, index=library).found
    assert answer("暂行条例第四条讲的是什么？", index=library).found


def test_a_loose_name_names_the_texts_that_answer_to_it():
    from qa.naming import named_as_documents, named_documents

    documents = [{"doc_id": "ets.md", "title": "碳排放权交易管理办法（试行）"},
                 {"doc_id": "ccer.md", "title": "温室气体自愿减排交易管理办法（试行）"},
                 {"doc_id": "rules.md", "title": "碳排放权交易管理暂行条例"},
                 {"doc_id": "review.md", "title": "固定资产投资项目节能审查和碳排放评价办法"}]  # fmt: skip
    question = "一家水泥企业连续两年排放不到门槛，按试行办法，它能被移出名录吗？"
    assert named_documents(question, documents) == ["ets.md", "ccer.md"]
    # named as documents: the named text leads, the governing 条例 follows it
    assert named_as_documents(question, documents) == ["ets.md", "ccer.md"]
    assert named_documents("按暂行条例，罚多少？", documents) == ["rules.md"]
    # a text the question compares with is not the one asked of
    compared = "欠缴的配额怎么处理？还是像试行办法那样由省里等量扣掉就完了吗？"
    assert named_documents(compared, documents) == []
    # a kind that names one text (条例) is the one asked of, the 试行办法 is the premise's
    premise = "试行办法要求名录向社会公开。条例施行以后，重点排放单位名录还要不要公开？"
    assert named_documents(premise, documents) == ["rules.md"]


def test_words_of_a_title_run_up_to_its_kind_name_it_as_a_document():
    from qa.naming import named_as_documents, named_documents

    documents = [{"doc_id": "opinions.md",
                  "title": "中共中央 国务院关于完整准确全面贯彻新发展理念做好碳达峰碳中和工作的意见"},
                 {"doc_id": "notice.md", "title": "关于做好2025年全国碳排放权交易市场有关工作的通知"},
                 {"doc_id": "review.md", "title": "固定资产投资项目节能审查和碳排放评价办法"}]  # fmt: skip
    # named as a document, it is the one searched: not the notice's 钢铁 deadlines
    question = "按照碳达峰碳中和意见，钢铁行业要在哪一年前实现碳达峰？"
    assert named_as_documents(question, documents) == ["opinions.md"]
    # 节能审查意见 is an instrument a project gets, not the 办法 that shares 节能审查
    assert named_as_documents("节能审查意见是2024年3月出具的，还有效吗？", documents) == []
    # a topic that shares the title's words names no document as one (碳达峰碳中和工作)
    topic = "碳达峰碳中和工作谁牵头？"
    assert named_as_documents(topic, documents, named_documents(topic, documents)) == []


def test_a_kind_a_question_goes_by_names_its_one_text():
    from qa.naming import named_as_documents, named_documents

    documents = [{"doc_id": "rules.md", "title": "碳排放权交易管理暂行条例"},
                 {"doc_id": "notice.md", "title": "关于做好2025年全国碳排放权交易市场有关工作的通知"},
                 {"doc_id": "plan.md", "title": "甲烷排放控制行动方案"}]  # fmt: skip
    # 按条例 names the one 条例, though 全国碳排放权 runs with the notice's title
    question = "全国碳排放权注册登记机构有个员工私下买卖配额，按条例罚款最多罚多少？"
    assert named_documents(question, documents) == ["rules.md"]
    assert named_as_documents(question, documents) == ["rules.md"]
    # …as 依照办法 names none: the library holds no 办法
    assert named_as_documents("依照办法，罚多少？", documents) == []
    # 甲烷方案: the title's first words and its kind
    later = "后来正式出台的甲烷方案在监测上是怎么安排的？"
    assert named_as_documents(later, documents) == ["plan.md"]
    assert named_as_documents("甲烷排放在监测上是怎么安排的？", documents) == []
    # …but 运营方案 is a project's plan: a kind ending another thing's name names no text
    plan = "节能报告里做节能降碳分析和比选，要覆盖项目建设和运营方案的哪些方面？"
    assert named_as_documents(plan, documents) == []
    assert named_as_documents("这个方案里对油气开采有什么要求？", documents) == ["plan.md"]


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("21年陆新明说要推动重点设施甲烷排放数据收集，后来正式出台的甲烷方案怎么安排？",
         ["要推动重点设施甲烷排放数据收集"]),
        ("甲烷方案说支持甲烷利用项目参加自愿减排交易，按现行规定要满足哪些条件？",
         ["支持甲烷利用项目参加自愿减排交易"]),
        # what the text says is asked about, not what came after it
        ("碳达峰碳中和意见说要培育一批研发平台，都是哪几类平台？", []),
        ("甲烷方案说要探索开展甲烷排放监测试点，试点具体放在哪些省份？", []),
    ],
)  # fmt: skip
def test_what_a_question_says_was_said_before_what_rules_now(question, said):
    from qa.naming import earlier_statements

    assert earlier_statements(question) == said


CCER_RULES = """---
title: 温室气体自愿减排交易管理办法（试行）
date: 2023-10-19
level: 部门规章
---

第十条 申请登记的温室气体自愿减排项目应当具备真实性、唯一性和额外性，属于生态环境部发布的项目方法学支持领域。

第十一条 项目业主应当按照项目方法学编制项目设计文件。
"""


def test_the_sentence_a_question_says_was_said_before_is_not_the_answer(
    tmp_path, fake_embedder, monkeypatch
):
    from conftest import METHANE

    from qa import answer

    library = small_library(tmp_path, fake_embedder, monkeypatch,
                            {"methane.md": METHANE, "ccer.md": CCER_RULES})  # fmt: skip
    question = ("甲烷要点说支持甲烷减排项目参与温室气体自愿减排交易，那甲烷减排项目想登记成"
                "自愿减排项目，按现行规定得满足哪些条件？")  # fmt: skip
    result = answer(question, index=library)
    assert result.found and "真实性、唯一性和额外性" in result.citations[0].quotes[0]
