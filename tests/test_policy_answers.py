"""Answer trust with the real model over corpus/, on tests/data/policy_questions.yaml.

Thresholds and weights were tuned on the dev split; the floors below are asserted on the test
split only (bench.trust reports both, per category). Then the cases users reported, one by one.
"""

from __future__ import annotations

import pytest

from bench.trust import load_questions, run, summarize
from qa import Index, answer

pytestmark = pytest.mark.slow

# Floors on the test split: what was last measured there minus 0.03, so that a regression fails
# and noise does not. The test split grew to 446 questions (283 of them written blind, in 14
# batches, in the sessions of 2026-11-26), so the floors were set again from that measurement.
# Measured on test (446 questions), look 10: fact 0.702, refused 0.618, declined 0.106,
# governing 0.750. Look 11, with the trained reader in the decision (fitted on dev only): fact
# 0.695, refused 0.819, declined 0.129, governing 0.688 (one of 16 conflict questions more
# declined). The refused floor rose with it; the governing floor fell by that one question.
# Look 12, the cosine no longer weighed for English questions: 0.695, 0.806, 0.126, 0.688.
# Look 13, numbered parts and English document names looked up: 0.699, 0.806, 0.126, 0.688.
# Look 14, a figure's subject may be named earlier in its paragraph: 0.699, 0.812, 0.126, 0.688.
# Look 15, a compound's parts counted once in sentence choice: 0.695, 0.819, 0.126, 0.688.
# Look 16, the named document answers, a figure must be of the asked measure: 0.705, 0.799,
# 0.116, 0.688. Look 17, a follow-up's own words are its focus: 0.709, 0.792, 0.113, 0.688.
# Look 18, with one test question added (447): 0.706, 0.792, 0.116, 0.688; look 19 the same.
# Look 20, English searched with its gloss: 0.723, 0.792, 0.122, 0.750. Look 21, a person's
# title looked up, a span of the asked act, the decision refitted at λ 1.0: 0.726, 0.792,
# 0.119, 0.750 (an uncommitted refit between them, at λ 3.0: 0.729, 0.792, 0.116, 0.750).
# Look 22, quoted terms and everyday words: 0.726, 0.792, 0.119, 0.750. Look 23, a clause's
# antecedent quoted, figures of another year dropped: the same. Look 24, each synonym of a
# dictionary sense read: 0.736, 0.812, 0.122, 0.750.
# Look 25 (2026-11-27), the test split grown to 487 with the blind batches 15 and 16 (40
# questions, 10 of them refusals), targets of two years quoted for each, the decision refitted
# at λ 30, which cross-validation on dev chose (λ 3 before): 0.763, 0.786, 0.084, 0.824. The
# decision moved along its trade-off (fewer answerable questions declined, fewer refusals), so
# the floors were set again from this measurement, by the rule above.
# Look 26, the test split grown to 507 with blind batch 17 (20 questions, 6 of them refusals),
# λ now picked by the one-standard-error rule (it stays 30), an organ needed for 谁/哪个部门,
# years beside periods: 0.769, 0.769, 0.084, 0.833; floors set again from it. Look 27, English
# definitions looked up and more policy English (dev English 0.819 → 0.867, blind batches
# pooled 0.880 → 0.899): 0.767, 0.756, 0.086, 0.833 (test English 0.622 → 0.610). Look 28,
# "release" kept its 发布 (the answer set had lost a question to it): 0.769, 0.756, 0.084, 0.833
# (test English 0.622; dev English 0.855, pooled 0.894); floors kept.
# Look 29 (2026-11-27), the test split grown to 587 with blind batches 18–21 (80 questions, 24
# of them refusals), a span needed for the asked act, a rare thing named in the figure's own
# provision, climate-policy English, a person asked by office: 0.772, 0.745, 0.079, 0.818 (test
# English 0.653). Look 30, 哪位皇帝 no longer needing a title (CMRC had lost a question to it):
# 0.772, 0.739, 0.079, 0.818. On the 507 questions of look 28 alone: 0.790, 0.787, 0.072, 0.833
# (look 28: 0.769, 0.756, 0.084, 0.833); on the 80 new ones: 0.661, 0.417, 0.125, 0.750. The
# split changed, so the floors were set again from look 30 by the rule above. Look 31, the
# people in charge brought with their article's paragraph: the same on test (dev fact 0.912).
# Look 32 (2026-11-27), the test split grown to 667 with blind batches 22–25 (80 questions),
# the asked kind named, English rare things, units and phrasal verbs, the asker's own case:
# 0.769, 0.721, 0.083, 0.846. Look 33, English words the library never uses counted unknown:
# 0.765, 0.740, 0.094, 0.846 (test English 0.632); on the 587 questions of look 31: 0.769,
# 0.755, 0.089, 0.864; on batches 22–23: 0.786, 0.667, 0.071; on batches 24–25, blind until
# then: 0.679, 0.583, 0.179. Look 34, the seed article's English (joint declaration → 联合宣言):
# 0.767, 0.745, 0.092, 0.846; on the 587 of look 31: 0.772, 0.761, 0.087, 0.864. Every floor
# holds, so none was moved.
# Look 35 (2026-11-27), the test split grown to 747 with blind batches 26–29 (80 questions):
# 0.746, 0.716, 0.099, 0.700. Dev showed one governing question lost to naming 2020年那个办法
# as a document (c-governing-55); mended, look 36: 0.746, 0.716, 0.099, 0.733. On the 667 of
# look 34: 0.769, 0.736, 0.087, 0.846; on the 80 new ones: fact 0.554, refused 0.542, and
# none of their 4 conflict questions led by the governing rule. The split changed, so the
# floors were set again from look 36 by the rule above.
# Look 37 (2026-11-27, second session), the test split grown to 867 with blind batches 30–35
# (120 questions): 0.725, 0.690, 0.107, 0.694. On the 747 of look 36: 0.751, 0.720, 0.091,
# 0.767 (every metric better than look 36); on the 120 new ones: fact 0.560, refused 0.500,
# declined 0.202, 2 of 6 conflict questions led by the governing rule. The split changed, so
# the floors were set again from look 37 by the rule above.
# Look 38 (2026-11-27, third session), the test split grown to 987 with blind batches 36–41
# (120 questions): 0.710, 0.678, 0.110, 0.643. On the 867 of look 37: 0.726, 0.679, 0.100,
# 0.694 (look 37: 0.725, 0.690, 0.107, 0.694: three refusals fewer, the rest flat or better);
# on the 120 new ones: fact 0.607, refused 0.667, declined 0.179, 2 of 6 conflict questions led
# by the governing rule. The split changed, so the floors were set again from look 38.
# Look 39, after policy English from dev misses was added to the dictionary (same split):
# 0.712, 0.674, 0.108, 0.643; English fact 0.601 → 0.607 (dev English 0.765 → 0.821).
# Look 40 (2026-11-27, fourth session), the test split grown to 1,067 with blind batches 42–45
# (80 questions): 0.716, 0.668, 0.111, 0.739. On the 987 of look 39: 0.722, 0.674, 0.104,
# 0.738 (look 39: 0.712, 0.674, 0.108, 0.643); on the 80 new ones: fact 0.625, refused 0.583,
# declined 0.196, 3 of 4 conflict questions led by the governing rule. The split changed, so
# the floors were set again from look 40 by the rule above.
# Looks 41–43 (2026-11-27, fifth session, same split). Look 41, a reader retrained on all dev:
# 0.682, 0.756, 0.162, 0.696, below three floors (its scores on new questions sat lower than
# its fold models', on which the decision was fitted); it was not kept. Look 43, the shipped
# reader with this session's rules: 0.712, 0.674, 0.114, 0.717 (English fact 0.608). Every
# floor holds, so none was moved.
# Looks 44–46 (2026-11-27, sixth session, same split): the two half-dev readers served
# together, the decision refitted with English coverage and unknown-share features. Look 44:
# 0.705, 0.720, 0.124, 0.717; look 46, with 双碳 and jieba's pieces known: 0.705, 0.726, 0.123,
# 0.717 (English fact 0.588). Every floor holds, so none was moved.
# Look 47 (2026-11-28, seventh session, same split): the governing rule's counterpart
# provision, readers' shortened names (自愿减排办法, 大气法), the 款 asked, the last part of a
# two-part question searched with its scene, year leads kept with figures; the decision
# refitted. 0.712, 0.726, 0.122, 0.739 (English fact 0.582; article 0.907 → 0.953). Look 48,
# words that say whose rules are asked (中国, 规章) no longer things a quote must name, the
# decision refitted (the one-SE rule now picks λ 30): 0.712, 0.707, 0.122, 0.739 (six
# refusals fewer of 328; dev pooled by batch had refused unchanged). Every floor holds, so
# none was moved.
# Look 49 (2026-11-28, eighth session), the test split grown to 1,106 with blind batches 46–47
# (39 questions): measures under longer names, acts that are words, policy English (lists,
# approvals that lapse, covered emitters, "what's the X for"), English definitions, unknown
# words that are things; the decision refitted (λ 10). 0.706, 0.721, 0.125, 0.729. On the
# 1,067 of look 48, batches ≤ 41: 0.720, 0.711, 0.113, 0.738 (look 48: 0.719, 0.711, 0.114,
# 0.738); 42–45: 0.625, 0.750, 0.214, 0.750 (look 48: 0.625, 0.667, 0.214, 0.750); on the 39
# new ones: fact 0.519, refused 0.917, declined 0.259, 1 of 2 conflict questions led by the
# governing rule. The split changed, so the floors were set again from look 49 by the rule.
# Look 50 (2026-11-28, ninth session), the test split grown to 1,146 with blind batches 48–49
# (40 questions): 按条例 and 甲烷方案 naming their texts, what the question says an earlier text
# said and the day a text takes effect losing weight in sentence choice, 等值以下 fines, the
# governing provision chosen by words, yes-no English asking its last words; the decision
# refitted (the one-SE rule picks λ 30). 0.703, 0.727, 0.130, 0.712. On the 1,106 of look 49:
# 0.700, 0.721, 0.131, 0.708 (look 49: 0.706, 0.721, 0.125, 0.729); batches ≤ 41: 0.713,
# 0.711, 0.119 (look 49: 0.720, 0.711, 0.113); on the 40 new ones: 0.750, 1.000, 0.125, 3 of
# 4 conflict questions led by the governing rule. The split changed, so the floors were set
# again from look 50 by the rule.
# Look 51 (2026-11-28, tenth session), the test split grown to 1,186 with blind batches 50–51
# (40 questions): λ picked by cross-validation a blind batch at a time (paired one-SE; λ 10),
# who signed a text, a text another says to carry out, the paragraph announcing the asked kind,
# an office asked, the year compared with, the asker's situation, a text named by year and
# kind. 0.710, 0.733, 0.125, 0.709. On the 1,146 of look 50: 0.709, 0.730, 0.122, 0.712 (look
# 50: 0.703, 0.727, 0.130, 0.712); on the 40 new ones: 0.719, 0.875, 0.219, 2 of 3 conflict
# questions led by the governing rule. The split changed, so the floors were set again from
# look 51 by the rule.
# The targets (0.92 / 0.90 / <= 0.05 / 0.90) are not reached on test yet.
FLOORS = {"fact": 0.680, "refused": 0.703, "governing": 0.679}
CEILINGS = {"wrongly_declined": 0.155}


@pytest.fixture(scope="module")
def index(real_index_dir) -> Index:
    return Index(real_index_dir)


@pytest.fixture(scope="module")
def test_table(index) -> dict:
    return summarize(run(index, [q for q in load_questions() if q["split"] == "test"]))


def test_floors_on_the_test_split(test_table, capsys):
    overall = test_table["all"]
    with capsys.disabled():
        print("\ntest split:", {k: overall[k] for k in ("fact", "refused", "wrongly_declined")},
              "governing", overall["governing"])  # fmt: skip
    assert overall["verbatim"] == 1.0
    for metric, floor in FLOORS.items():
        assert overall[metric] >= floor, (metric, overall[metric])
    for metric, ceiling in CEILINGS.items():
        assert overall[metric] <= ceiling, (metric, overall[metric])


def first(result):
    return result.citations[0].passage if result.citations else None


def test_a_false_report_is_answered_by_the_governing_regulation(index):
    result = answer("重点排放单位虚报碳排放数据怎么处罚？", index=index)
    lead = first(result)
    assert (lead.doc_id, lead.provision) == (
        "carbon-trading-interim-regulations-2024.md",
        "第二十二条",
    )
    assert "50万元以上200万元以下" in result.text
    assert "《碳排放权交易管理暂行条例》第二十二条" in lead.citation


def test_the_superseded_rule_follows_as_see_also_with_both_levels_and_dates(index):
    result = answer("重点排放单位未按时足额清缴配额怎么处罚？", index=index)
    cited = [(c.passage.doc_id, c.passage.provision) for c in result.citations]
    assert cited[0] == ("carbon-trading-interim-regulations-2024.md", "第二十四条")
    assert ("carbon-trading-measures-2020.md", "第四十条") in cited
    see_also = result.text.index("另见")
    assert result.text.index("第二十四条") < see_also < result.text.index("第四十条")
    for part in ("行政法规，2024-05-01起施行", "部门规章，2021-02-01起施行", "以前者为准"):
        assert part in result.text


def test_a_rule_the_question_names_leads_and_the_governing_one_follows(index):
    result = answer("按照碳排放权交易管理办法（试行），重点排放单位虚报、瞒报排放报告怎么处罚？",
                    index=index)  # fmt: skip
    assert (first(result).doc_id, first(result).provision) == (
        "carbon-trading-measures-2020.md",
        "第三十九条",
    )
    assert "一万元以上三万元以下" in result.text
    assert result.text.index("一万元以上三万元以下") < result.text.index("另见")
    assert "效力优先于所问的《碳排放权交易管理办法（试行）》" in result.text


def test_words_a_title_shares_with_the_topic_dont_name_the_superseded_rule(index):
    # 碳排放权交易 is a run of both titles; the question names neither as a document
    question = (
        "生态环境部门的工作人员在碳排放权交易监管中滥用职权、徇私舞弊的，按现在的规定怎么处理？"
    )
    result = answer(question, index=index)
    assert (first(result).doc_id, first(result).provision) == (
        "carbon-trading-interim-regulations-2024.md",
        "第十九条",
    )
    assert "另见" in result.text and "所问的" not in result.text


def test_an_item_is_answered_with_its_article_lead_in(index):
    result = answer("重点排放单位在年度排放报告中篡改、伪造数据会受到什么处罚？", index=index)
    assert first(result).provision == "第二十二条"
    assert "篡改、伪造数据资料" in result.text and "50万元以上200万元以下的罚款" in result.text


def test_the_main_targets_come_from_their_section_with_their_figures(index):
    question = "碳达峰碳中和意见提出了哪些主要目标？"
    result = answer(question, index=index)
    assert first(result).provision == "二、主要目标"
    follow_up = answer("那2030年的目标呢？", index=index, history=[(question, result.text)])
    for figure in ("65%以上", "25%左右", "12亿千瓦"):
        assert figure in follow_up.text


def test_a_list_is_not_cut_at_a_semicolon(index):
    result = answer("中美两国在甲烷方面达成了什么共识？", index=index)
    for commitment in ("加强甲烷排放的测量", "交流各自加强甲烷管控政策", "联合研究"):
        assert commitment in result.text


def test_a_quoted_term_is_quoted_where_the_text_holds_it(index):
    # The lead-in of 第十二条 holds the question's other words (节能报告, 内容); the item in
    # quotation marks is its （五）.
    result = answer("固定资产投资项目节能报告里的“项目碳排放情况”要写明哪些内容？", index=index)
    assert result.citations[0].quotes[0].startswith("（五）项目碳排放情况")
    # A period in quotation marks is named by its years as often: no term to look for.
    from qa.answer import _quoted_phrase

    assert _quoted_phrase("“十四五”期间种植业的甲烷排放强度要达到什么目标？") is None


def test_everyday_words_find_the_rules_formal_ones(index):
    # 外包 is what the 条例 calls 委托 (第十二条第二款).
    question = "省级生态环境部门可以把重点排放单位年度排放报告的核查工作外包给第三方机构吗？"
    result = answer(question, index=index)
    assert "委托依法设立的技术服务机构对年度排放报告进行技术审核" in result.text
    # 不能 is what rules call 不得 (自愿减排办法第十条第二款).
    result = answer("哪些项目不能申请自愿减排项目登记？", index=index)
    assert "纳入全国和地方碳排放权交易市场配额管理的项目，不得申请" in result.citations[0].quotes[0]


@pytest.mark.parametrize("question", ["碳价是多少？", "全国碳市场配额今天的价格是多少？"])
def test_a_price_the_texts_do_not_state_is_declined(index, question):
    assert not answer(question, index=index).found


@pytest.mark.parametrize(
    ("question", "fact"),
    [("陆新明担任什么职务？", "副司长"), ("项目设计文件公示期是多长时间？", "二十个工作日")],
)
def test_question_words_are_not_topic_words(index, question, fact):
    result = answer(question, index=index)
    assert result.found and fact in result.text


def test_a_text_in_force_is_shown_by_the_newer_one_that_cites_it(index):
    # The 2025 notice cites the 2020 办法 by its full title; the hybrid search ranked that
    # paragraph below twenty others of the library, the title's own words find it.
    result = answer("2020年的碳排放权交易管理办法（试行）被暂行条例废止了吗？", index=index)
    assert "较新的文件仍以其为依据" in result.text
    assert result.citations[0].passage.doc_id == "national-ets-2025-work-notice.md"
