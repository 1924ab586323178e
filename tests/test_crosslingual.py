"""English questions over Chinese texts: English words → the Chinese words the library uses."""

from __future__ import annotations

import pytest

from qa.crosslingual import english_terms, lookup


def test_an_english_search_finds_chinese_texts_by_their_words(tmp_path, fake_embedder):
    from qa import Index, build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = {
        "methane.md": "# 甲烷方案\n\n加强稻田甲烷排放控制，推广节水灌溉。",
        "market.md": "# 碳市场\n\n重点排放单位应当按时清缴碳排放配额。",
        "air.md": "# 大气\n\n禁止进口、销售不符合质量标准的煤炭。",
    }
    for name, text in texts.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    index = Index(tmp_path / "index", embedder=fake_embedder)
    # The fake embedder shares no character of English with Chinese: only the translated
    # words can find these.
    assert index.search("methane from rice paddies", k=1)[0].doc_id == "methane.md"
    assert index.search("surrender allowances", k=1)[0].doc_id == "market.md"
    assert index.search("Can coal be imported?", k=1)[0].doc_id == "air.md"


def test_english_terms_keep_the_words_the_library_uses():
    from qa.crosslingual import english_terms

    library = {"检查人员", "现场", "检查", "电气", "交通工具"}

    def known(words: set[str]) -> set[str]:
        return words & library

    inspection = english_terms("How many inspectors are needed for an on-site inspection?", known)
    assert frozenset({"现场"}) in inspection and frozenset({"检查"}) in inspection
    assert all("现场视察" not in term for term in inspection)
    # A phrase of general words the library doesn't use stays one (unmatched) topic.
    cars = english_terms("What are the subsidies for hybrid cars?", known)
    assert any("混合型汽车" in term for term in cars)
    assert all("交通工具" not in term for term in cars)


def test_what_amount_of_asks_how_much_it_names_no_amount():
    from qa.crosslingual import english_terms

    asked = english_terms("What amount of CO2 does one allowance correspond to?")
    assert not any("数量" in term for term in asked)
    assert any("二氧化碳" in term for term in asked)
    # an amount the question is about stays a term
    assert any("数量" in term for term in english_terms("Is the amount of allowances capped?"))


def test_inflected_words_find_their_dictionary_form():
    # agreed → agree, signed → sign, falsified → falsify, breaks down → break down
    assert "同意" in lookup("agreed")
    assert "签署" in lookup("signed")
    assert "篡改" in lookup("falsified")
    assert "出毛病" in lookup("breaks down")
    assert "覆盖" in lookup("covers")
    assert not lookup("zzyzx")
    # A form with an odd entry of its own keeps its dictionary form's words too
    assert {"其内", "包括", "纳入"} <= lookup("included")


def test_words_the_dictionary_lacks_are_read_by_their_relatives():
    # built → build, British spelling, -ment/-ion/-ly derived from a glossed word
    assert {"修建", "建造"} & lookup("built")
    assert "利用" in lookup("utilisation")
    assert "采购" in lookup("procurement")
    assert "共同" in lookup("jointly")
    assert "避免" in lookup("prevention")
    # a word of its own keeps its own senses: government is not govern (治理)
    assert "政府" in lookup("government") and "治理" not in lookup("government")
    assert "采购" not in lookup("procurementx")
    # a name may be longer than a phrase: "China Securities Regulatory Commission" is 证监会,
    # not 中国 + 安全 (securities) + 规制 + 委托 (commission)
    assert "证监会" in lookup("china securities regulatory commission")
    assert any(
        "证监会" in t for t in english_terms("Does the China Securities Regulatory Commission act?")
    )
    # peak-shaving is 调峰 in power policy, not 达峰 + 刮胡子
    assert frozenset({"调峰"}) in english_terms("Is storage tied to peak-shaving capability?")
    # CC-CEDICT glosses disclose as 公开 only; the texts say 信息披露
    assert "披露" in lookup("disclose") and "披露" in lookup("disclosed")


def test_modal_words_are_not_topics():
    terms = english_terms("Does the opinion let some regions peak ahead of the rest?")
    assert all("任由" not in term for term in terms)
    assert any("率先" in term for term in terms)
    assert any("领域" in term for term in english_terms("Which sectors does it cover?"))
    # Chinese is 中国, not 中国籍 (nationality) or 语文 (the language)
    assert any("中国" in t for t in english_terms("Does Chinese law require it?"))
    # pronouns and hedges are no topics (anyone → 张王李赵, itself → 它本身, exactly → 恰恰)
    terms = english_terms("Does anyone have to check the report itself, exactly?")
    assert [sorted(t)[:2] for t in terms] == [sorted(t)[:2] for t in english_terms("check report")]


def test_a_verb_with_its_preposition_is_read_as_the_verb():
    terms = english_terms("What fine does it face if it merges with another firm and applies to"
                          " change its registration?")  # fmt: skip
    assert any("合并" in term for term in terms) and any("申请" in term for term in terms)
    assert all(not {"相接", "具体到"} & term for term in terms)
    assert all("脸" not in term for term in terms)  # face a fine: no face
    # policy phrases that start with a common word are phrases still
    assert frozenset({"负责", "主管"}) in english_terms("Who is in charge of the registry?")
    assert frozenset({"按时", "按期"}) in english_terms("Must it surrender on time?")


def test_the_kind_an_english_question_asks_for_is_its_focus():
    from qa.crosslingual import asked_kind_words

    assert asked_kind_words("What kind of measuring instruments must a key emitter use?") == {
        "计量器具"
    }
    assert {"行业", "领域"} <= asked_kind_words("Which sectors was the policy meant to cover?")
    # an auxiliary is no kind: "what does the developer have to…" asks for no thing
    assert not asked_kind_words("What does the developer have to sign off on?")
    assert not asked_kind_words("What exactly do we have to submit?")  # no kind: an adverb
    assert not asked_kind_words("Does the plan call for methane data to be shared?")
    # what's the X for…: the X, whatever it is of
    assert asked_kind_words("What's the penalty for manipulating the CCER market?") == {"罚款"}
    assert "比例" in asked_kind_words(
        "What is the maximum share of an obligation that offsets meet?"
    )


def test_a_chemical_formula_does_not_hide_the_name():
    # CC-CEDICT glosses 甲烷 as "methane CH4" and 二氧化碳 as "carbon dioxide CO2"
    assert "甲烷" in lookup("methane")
    assert "二氧化碳" in lookup("carbon dioxide")


def test_each_synonym_of_a_sense_is_a_translation():
    # CC-CEDICT: 企业 /company; firm; enterprise; corporation/, 技术 /technology; technique; skill/
    assert "企业" in lookup("enterprise")
    assert "技术" in lookup("technology")
    # a single character keeps its first word only: 县 is a county, not every sense of 县
    assert "县" in lookup("county")


def test_policy_english_finds_the_words_rules_use():
    assert {"减少", "削减"} <= lookup("cut")
    assert "伤口" not in lookup("cut")  # the wound, not the reduction
    assert "设施" in lookup("facilities")
    # the list of key emitters is their 名录; what a plan aims for is its 目标
    assert "名录" in lookup("list") and "名录" in lookup("lists")
    assert "目标" in lookup("aiming") and "目的" not in lookup("aiming")
    # an unused review approval lapses: 2年内未开工建设，节能审查意见…自动失效
    terms = english_terms("Does a review approval stay valid if construction doesn't start?")
    assert frozenset({"审查意见"}) in terms and any("失效" in t for t in terms)
    assert frozenset({"开工建设"}) in english_terms("What if we never start construction?")
    # ETS English: a covered emitter is a 重点排放单位, its report's technical review 技术审核
    assert lookup("covered entities") == {"重点排放单位"}
    assert lookup("technical review") == {"技术审核"}
    assert lookup("tonnes") == {"吨"} and "前" in lookup("before")  # not 英吨, 之前 alone
    # a longer policy phrase wins over the dictionary's shorter one (carbon emissions → 碳排放)
    terms = english_terms("Under the carbon emissions trading measures, who must report?")
    assert frozenset({"碳排放权交易"}) in terms


def test_what_kind_of_asks_and_measuring_instruments_are_the_rules_words():
    assert "保守" in lookup("conservativeness")  # -ness: the adjective's translations
    # split a project to get around the review: 以拆分…等不正当手段逃避节能审查
    assert "拆分" in lookup("split") and "逃避" in lookup("get around")
    assert "排放" in lookup("release") and "费用" in lookup("pay a fee")
    assert "发布" in lookup("release")  # a declaration is released (发布) too
    terms = english_terms("What kind of measuring instruments must a key emitter use?")
    assert frozenset({"计量器具"}) in terms
    assert not any("种类" in term or "类型" in term for term in terms)  # the asking, not a topic


def test_climate_policy_english_reads_as_the_measures_the_texts_name():
    # carbon intensity is what the 意见 calls 单位国内生产总值二氧化碳排放; peaking is 达峰, not 山峰
    terms = english_terms("What cut in carbon intensity, i.e. CO2 per unit of GDP, is set?")
    words = set().union(*terms)
    assert {"单位国内生产总值二氧化碳排放", "二氧化碳", "单位国内生产总值"} <= words
    assert lookup("peaking") == {"达峰"} and "森林蓄积量" in lookup("forest stock")
    assert "违法所得" in lookup("illegal gains") and "发电行业" in lookup("power sector")
    # the seed article's words: 联合宣言, and the US as 美方 or 中美
    assert "联合宣言" in lookup("joint declaration") and "中美" in lookup("united states")
    # the review authority is an organ (部门, 机关), not a 大拿
    assert "大拿" not in lookup("authority") and "主管部门" in lookup("authorities")
    # the acceptance check of a project is its 验收, and a self check report its 自查报告; not a
    # 核实 or 查询 the texts would have to name
    terms = english_terms("energy acceptance check - who writes the self check report?")
    assert frozenset({"验收"}) in terms and frozenset({"自查"}) in terms
    assert not any("查询" in term for term in terms)


def test_possessives_hyphens_and_conditions_are_read_as_a_reader_would():
    terms = english_terms("If a factory's equipment fails, what must it do?")
    assert any("工厂" in term for term in terms)
    assert not any("一旦" in term for term in terms)  # "if" asks nothing
    # coal-fired: CC-CEDICT has no entry, so its parts are read; fired is fire, not fir
    plants = english_terms("Which coal-fired plants need a review?")
    assert any("煤炭" in term for term in plants) and any("审查" in term for term in plants)
    assert not any("枞树" in term for term in plants)


@pytest.mark.slow
def test_english_sentences_are_chosen_with_the_chinese_gloss(real_index_dir):
    # The English question alone picks 第四十条 (on boilers); its gloss 煤炭 进口 销售…
    # finds the sentence that answers it.
    from qa import Index, answer

    result = answer("Is it legal to import or sell substandard coal in China?",
                    index=Index(real_index_dir))  # fmt: skip
    assert result.found and "国家禁止进口、销售和燃用不符合质量标准的煤炭" in result.text


@pytest.mark.slow
def test_the_sentence_naming_the_asked_kind_is_quoted(real_index_dir):
    # Without the focus on 计量器具, 第十一条's long sentence lost to the one on hiring a
    # technical service body (检验检测) by a hair.
    from qa import Index, answer

    result = answer("What kind of measuring instruments must a key emitter use when it tests its"
                    " greenhouse gas emissions?", index=Index(real_index_dir))  # fmt: skip
    assert result.found and "依法经计量检定合格或者校准的计量器具" in result.text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "answer_text", "wrong_first"),
    [
        # The English vector alone puts the 条例's promulgation line first; with 名录 公布 …
        # the passage that says so leads.
        ("Do the 2024 interim regulations on carbon emissions trading require the yearly list "
         "of key emitters to be made public?", "年度重点排放单位名录应当向社会公布", "现予公布"),
        # hydrogen → 氢能: not the seed article's 氢氟碳化物.
        ("What does China's carbon peaking and neutrality policy say about hydrogen?",
         "加强氢能生产、储存、应用关键技术研发", "氢氟碳化物"),
    ],
)  # fmt: skip
def test_english_questions_are_searched_with_the_chinese_gloss(
    real_index_dir, question, answer_text, wrong_first
):
    from qa import Index, answer

    result = answer(question, index=Index(real_index_dir))
    assert result.found and answer_text in result.text
    assert wrong_first not in result.citations[0].quotes[0]


def test_when_asks_a_date_only_as_the_question_word():
    from qa.answer_types import question_form

    assert question_form("When does the interim regulation take effect?") == "date"
    assert question_form("By when must key emitters surrender their allowances?") == "date"
    # "when it tests" is a condition: the question asks for a kind of instrument.
    asked = "What kind of measuring instruments must a key emitter use when it tests its emissions?"
    assert question_form(asked) != "date"
