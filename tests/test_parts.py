"""Questions answered by more than one quote: each part of a two-part question, every provision
that says a phrase. On tiny corpora and the fake embedder."""

from __future__ import annotations

import pytest
from test_trust import small_library

from qa import answer, evidence
from qa.parts import asking_sentences, question_parts, without_scene

CCER = """---
title: 温室气体自愿减排交易管理办法（试行）
issuer: 生态环境部
date: 2023-10-19
---

第六条　注册登记机构负责注册登记系统的运行和管理，受理温室气体自愿减排项目和减排量的登记、注销申请。

第七条　交易机构负责交易系统的运行和管理，提供核证自愿减排量的集中统一交易与结算服务。

第二十六条　注册登记机构根据交易机构提供的成交结果，通过注册登记系统为交易主体及时变更核证自愿减排量的持有数量和持有状态。

第二十七条　注册登记机构和交易机构应当建立风险管理制度，保障全国温室气体自愿减排注册登记系统和交易系统安全稳定运行。
"""


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("核查要确认什么？这个结果拿来干什么？", ["核查要确认什么", "这个结果拿来干什么"]),
        (
            "总则设立了哪些机构，又规定了哪些技术规范？",
            ["总则设立了哪些机构", "又规定了哪些技术规范"],
        ),
        # the scene set before one question is no question of its own
        ("我们总部在上海，电厂在内蒙古，报告该报给哪个省？", []),
        ("结算服务是哪个机构提供的？", []),
        # a second question that opens with its asking word after a comma
        (
            "哪些煤是限制开采的，哪些是禁止开采的？",
            ["哪些煤是限制开采的", "哪些是禁止开采的"],
        ),
        ("企业申请了复核，省厅最晚几个工作日要给结论？", []),
    ],
)
def test_the_parts_of_a_question_are_those_that_ask(question, asked):
    assert [part for _, part in question_parts(question)] == asked


def test_each_part_of_a_question_gets_its_quote_in_the_parts_order(
    tmp_path, fake_embedder, monkeypatch
):
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"ccer.md": CCER})
    question = "核证自愿减排量交易的结算服务是哪个机构提供的？也是注册登记机构吗？"
    # one passage for the whole question: the registry's, which the second part asks about
    result = answer(question, k=1, index=library)
    assert result.found
    assert "集中统一交易与结算服务" in result.text
    assert result.text.index("结算服务") < result.text.index("注册登记机构根据")


PENALTIES = """---
title: 碳排放权交易管理暂行条例
issuer: 国务院
date: 2024-02-04
---

第二十一条　重点排放单位有下列情形之一的，由生态环境主管部门责令改正，处5万元以上50万元以下的罚款；拒不改正的，可以责令停产整治：

（一）未按照规定制定并执行温室气体排放数据质量控制方案。

第二十三条　技术服务机构出具不实的检验检测报告的，处2万元以上10万元以下的罚款。

第二十四条　重点排放单位未按照规定清缴其碳排放配额的，由生态环境主管部门责令改正；拒不改正的，按照未清缴的碳排放配额等量核减其下一年度碳排放配额，可以责令停产整治。
"""


def test_which_provisions_say_a_phrase_are_all_quoted_whole(tmp_path, fake_embedder, monkeypatch):
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"regulation.md": PENALTIES})
    result = answer("条例里有哪几条规定了拒不改正的可以责令停产整治？", index=library)
    assert result.found
    # each article's sentence from its number, also where words come between the phrase's parts
    assert "第二十一条" in result.text and "第二十四条" in result.text
    assert "第二十三条" not in result.text
    assert len(result.citations) == 2


def test_a_phrase_written_in_quotes_is_found_wherever_it_is(tmp_path, fake_embedder, monkeypatch):
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"regulation.md": PENALTIES})
    result = answer("哪些条款写了“责令改正”？", index=library)
    assert [c.passage.text[:5] for c in result.citations] == ["第二十一条", "第二十四条"]


PLAN = """---
title: 甲烷排放控制行动方案
issuer: 生态环境部
date: 2023-11-07
---

## 三、重点任务

### 18.创新完善经济激励政策

推进具有甲烷减排效益的项目纳入生态环境导向的开发项目库。

完善温室气体自愿减排交易机制，支持符合条件的甲烷利用和减排项目开展温室气体自愿减排交易。

研究完善相关财税政策。

### 19.加强甲烷排放监测

鼓励企业探索开展甲烷排放监测试点。
"""


def test_a_part_named_by_its_heading_in_quotes_is_quoted_whole(
    tmp_path, fake_embedder, monkeypatch
):
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"plan.md": PLAN})
    question = "甲烷方案“创新完善经济激励政策”那一条，对做甲烷利用项目的企业有哪些利好？"
    result = answer(question, index=library)
    assert "开发项目库" in result.text and "自愿减排交易机制" in result.text
    assert "财税政策" in result.text  # the whole part, not the sentences that match the asker
    assert "监测试点" not in result.text


@pytest.mark.parametrize(
    ("question", "asking"),
    [
        # the premise sets the scene; 谁 asks
        (
            "试行办法把纳入门槛写成年排放2.6万吨。现在确定条件是由谁来定的？",
            "现在确定条件是由谁来定的？",
        ),
        ("县里一个项目没按节能审查意见建。归哪个部门管？", "归哪个部门管？"),
        ("重点排放单位虚报排放报告怎么处罚？", "重点排放单位虚报排放报告怎么处罚？"),
    ],
)
def test_the_asking_sentences_leave_the_premise_out(question, asking):
    assert asking_sentences(question) == asking


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        # who asks and when: no thing the rule is asked about
        ("集团战略部在做碳规划，想确认意见定的2025年排放要下降多少？", "想确认意见定的2025年排放要下降多少？"),
        ("我们的项目是发改委审的，现在快投产了，验收归哪个部门管？", "验收归哪个部门管？"),
        # a clause naming the thing asked of stays
        ("甲烷方案对县城污水处理厂的污泥，2025年定的目标是多少？",
         "甲烷方案对县城污水处理厂的污泥，2025年定的目标是多少？"),
        # nothing left to ask: the whole question
        ("我们现在正在做规划", "我们现在正在做规划"),
    ],
)  # fmt: skip
def test_the_askers_own_situation_is_left_out(question, asked):
    assert without_scene(question) == asked


def test_who_asks_a_part_of_its_own():
    question = "注册登记系统当初是谁组织建起来的？系统出了问题，由谁负责保证安全运行？"
    assert len(question_parts(question)) == 2


NOTICE = """---
title: 关于做好全国碳排放权交易市场有关工作的通知
issuer: 生态环境部
date: 2025-03-26
---

省级生态环境主管部门应当在6月30日前完成重点排放单位年度排放报告的核查，并告知核查结果。

省级生态环境主管部门应当在7月31日前核定重点排放单位应发放的配额量。

重点排放单位应当在12月31日前完成上一年度配额清缴。
"""


def test_the_last_part_of_a_question_is_answered_with_the_scene_it_sets(
    tmp_path, fake_embedder, monkeypatch
):
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"notice.md": NOTICE})
    # which quotes answer, not whether to answer: the decision is fitted on the real corpus
    monkeypatch.setattr(evidence, "BIAS", 1e9)
    question = "我们是重点排放单位，核查结果省里最晚什么时候告诉我们？配额又得在哪天前清缴完？"
    result = answer(question, k=2, index=library)
    assert result.found
    assert "6月30日前" in result.text and "12月31日前" in result.text
    assert result.text.index("6月30日前") < result.text.index("12月31日前")
