"""A question that asks two things is answered for each, on a tiny corpus and the fake embedder."""

from __future__ import annotations

import pytest
from test_trust import small_library

from qa import answer
from qa.parts import question_parts

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
