"""Which of a question's words matter and how (the asker's own case, everyday words, the sentence
that asks), on tiny corpora and the fake embedder."""

from __future__ import annotations

import pytest
from test_trust import small_library


def unknown_words(library, question: str) -> list[str]:
    """The topic words of `question` that `library` holds nowhere."""
    from qa.evidence import evidence_terms
    from qa.text import tokenize

    return evidence_terms(library, question, tokenize(question), [])[1]


def review_rules(tmp_path, fake_embedder, monkeypatch, *paragraphs: str):
    """A library of one text, the 节能审查办法, of these paragraphs."""
    rules = "---\ntitle: 节能审查办法\n---\n\n" + "\n\n".join(paragraphs) + "\n"
    return small_library(tmp_path, fake_embedder, monkeypatch, {"rules.md": rules})


def test_an_everyday_word_is_known_where_the_rules_formal_word_is(
    tmp_path, fake_embedder, monkeypatch
):
    law = "---\ntitle: 大气污染防治法\n---\n\n第三十六条　加强民用散煤的管理，鼓励居民燃用优质煤炭。\n"
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"law.md": law})
    assert "老百姓" not in unknown_words(library, "老百姓家里烧散煤，法律上怎么管？")  # said 居民
    assert "外国人" in unknown_words(library, "外国人家里烧散煤，法律上怎么管？")


def test_the_asking_short_names_and_glued_prepositions_are_no_unknown_words(
    tmp_path, fake_embedder, monkeypatch
):
    library = review_rules(
        tmp_path, fake_embedder, monkeypatch,
        "第十三条　国家发展改革委负责实施节能审查的项目，由省级节能审查机关报送。",
        "第十四条　碳排放统计核算数据由省级生态环境主管部门负责公开。",
    )  # fmt: skip
    unknown = unknown_words(library, "发改委审的项目，省厅要由谁来报送？")
    assert not {"发改委", "省厅", "由谁来"} & set(unknown)  # 国家发展改革委, 省级; the asking
    glued = unknown_words(library, "按碳排放统计核算数据的规定，由谁公开？")
    assert not [w for w in glued if w.startswith("按")]  # jieba's 按碳: 按 + 碳
    # …but a word the library lacks stays unknown, glued or not
    assert any("碳税" in w for w in unknown_words(library, "按碳税的规定，由谁公开？"))


def test_what_kind_of_figure_is_asked_and_abbreviations_are_no_unknown_words(
    tmp_path, fake_embedder, monkeypatch
):
    opinion = ("---\ntitle: 碳达峰碳中和意见\n---\n\n"
               "到2025年，单位国内生产总值二氧化碳排放比2020年下降18%。\n")  # fmt: skip
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"opinion.md": opinion})
    asked = "意见里给出具体百分比、带年份或时间节点的目标有哪些？单位GDP排放下降多少？"
    assert not {"百分比", "年份", "节点", "时间节点", "gdp"} & set(unknown_words(library, asked))
    assert "vocs" in unknown_words(library, "意见对VOCs排放下降多少？")  # not in this library


def test_the_kind_of_the_askers_own_project_is_no_unknown_word(
    tmp_path, fake_embedder, monkeypatch
):
    library = review_rules(
        tmp_path, fake_embedder, monkeypatch,
        "第十九条　项目自出具节能审查意见之日起2年内未开工建设，节能审查意见自动失效。",
    )  # fmt: skip
    ours = "我们一个焦化技改项目前年拿到了节能审查意见，到现在还没开工，意见会不会失效？"
    assert not {"焦化", "技改"} & set(unknown_words(library, ours))
    # …a thing the question asks about stays one
    assert "焦化" in unknown_words(library, "焦化项目的节能审查意见会不会失效？")


def test_a_dictionary_word_that_starts_as_a_preposition_does_is_a_word():
    class Library:  # holds every word but 对冲 (hedging), so 冲 too
        def unknown_terms(self, terms):
            return [t for t in terms if t == "对冲"]

    assert "对冲" in unknown_words(Library(), "配额能拿来对冲价格风险吗？")


def test_policy_shorthand_is_known_where_the_text_spells_it_out(
    tmp_path, fake_embedder, monkeypatch
):
    opinion = (
        "---\ntitle: 关于完整准确全面贯彻新发展理念做好碳达峰碳中和工作的意见\n---\n\n"
        "实现碳达峰、碳中和是一场广泛而深刻的经济社会系统性变革。\n\n"
        "整体推进海洋生态系统保护和修复，提升红树林、海草床、盐沼等固碳能力，巩固生态系统碳汇能力。\n"
    )
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"opinion.md": opinion})
    assert not {"双碳", "蓝碳"} & set(unknown_words(library, "双碳意见里蓝碳这块提了什么？"))
    assert "绿碳" in unknown_words(library, "绿碳意见里蓝碳这块提了什么？")


def test_a_piece_jieba_cuts_from_a_word_is_no_unknown_word_of_its_own(
    tmp_path, fake_embedder, monkeypatch
):
    from qa.text import tokenize

    library = review_rules(
        tmp_path, fake_embedder, monkeypatch,
        "第二十七条　以提供虚假材料等不正当手段通过节能审查验收的，责令限期整改。",
        "陆新明表示，将研究制定甲烷排放控制行动方案。",
    )  # fmt: skip
    question = "节能验收拿假材料混过去了 咋处理"
    assert {"混过", "过去"} <= set(tokenize(question))  # jieba's pieces of 混过去
    unknown = unknown_words(library, question)
    assert "混过去" in unknown and "混过" not in unknown and "过去" not in unknown
    # a piece of a word the library holds (新明 of 陆新明) is not unknown either
    question = "陆新明21年说的甲烷方案后来咋安排的"
    assert "新明" in tokenize(question)
    assert "新明" not in unknown_words(library, question)


def test_the_kind_of_the_askers_own_project_is_no_thing_a_rule_must_name():
    from qa.evidence import case_kind

    assert {"沼气"} <= case_kind("我们的农村户用沼气项目2019年开工，最早从什么时候算？")
    assert "煤化工" in case_kind("我们客户一个没做节能审查就投产的煤化工项目，由谁下令关闭？")
    # without an asker of their own, the kind is the question's subject
    assert not case_kind("农村户用沼气项目最早从什么时候算？")


@pytest.mark.parametrize(
    "question",
    [
        "我们的项目2019年开工，减排量最早从什么时候算？",
        "我们2024年底完成了登记，减排量最早从什么时候算？",
        "我们2023年度的排放报告台账丢了，会被怎么罚？",
    ],
)
def test_a_year_of_the_askers_case_is_no_year_a_rule_must_name(question):
    from qa.evidence import names_numbers
    from qa.search import Passage

    rule = Passage(text="减排量应当产生于2020年9月22日之后。", doc_id="ccer.md", title="办法",
                   source=None, date=None, paragraph=1, score=1.0)  # fmt: skip
    year = next(t for t in ("2019", "2024", "2023") if t in question)
    assert names_numbers([rule], [year, "减排量"], question)
    # asked without a case of one's own, the year names what is asked
    assert not names_numbers([rule], [year, "减排量"], question.replace("我们", "", 1))


def test_a_share_answers_how_much_of_the_askers_own_amount():
    from qa.answer_types import question_form, required_shape

    own = "我们应清缴的配额是400万吨，最多能用多少吨核证自愿减排量抵销？"
    assert required_shape(own, question_form(own)).search("抵销比例不得超过应清缴碳排放配额的5%")
    bare = "最多能用多少吨核证自愿减排量抵销？"
    assert not required_shape(bare, question_form(bare)).search(
        "抵销比例不得超过应清缴碳排放配额的5%"
    )


def test_an_english_question_is_about_its_last_sentence_the_rest_sets_the_scene(fake_embedder):
    from types import SimpleNamespace

    from qa.crosslingual import english_terms
    from qa.search import Passage
    from qa.sentences import select_sentences

    text = ("省级生态环境主管部门可以对已登记的温室气体自愿减排项目组织开展监督检查。"
            "被检单位应当予以配合，如实反映情况，提供必要资料，不得拒绝和阻挠。")  # fmt: skip
    passage = Passage(text=text, doc_id="ccer.md", title="办法", source=None, date=None,
                      paragraph=1, score=1.0)  # fmt: skip
    # another text on the scene's matter, so that the scene alone would pick its sentence
    notice = Passage(text="省级环境部门负责本省自愿减排项目的日常检查。", doc_id="notice.md",
                     title="通知", source=None, date=None, paragraph=1, score=1.0)  # fmt: skip
    question = (
        "Provincial environment officials want to inspect our voluntary emission reduction"
        " project. May we refuse them?"
    )
    vector = fake_embedder.embed_queries([question])[0]
    chosen = select_sentences(SimpleNamespace(embedder=fake_embedder), vector, [passage, notice],
                              english_terms(question), None, question=question)  # fmt: skip
    assert "不得拒绝" in chosen[0].text


def test_the_day_a_text_takes_effect_is_not_the_day_it_was_revised():
    from qa.answer_types import question_form, required_shape
    from qa.stated import states_asked

    question = "2015年修订后的大气污染防治法是从哪天开始施行的？"
    shape = required_shape(question, question_form(question))
    terms = ["大气", "污染", "防治法"]
    revised = ["2015年8月29日第十二届全国人民代表大会常务委员会第十六次会议第二次修订"]
    assert not states_asked(revised, shape, terms, question, titles=["大气污染防治法"])
    effective = ["本法自2016年1月1日起施行。"]
    assert states_asked(effective, shape, terms, question, titles=["大气污染防治法"])


def test_how_a_thing_is_arranged_asks_for_content_not_a_topic():
    from qa.evidence import asked_kinds

    assert "安排" in asked_kinds("通知里配额核定这一条是怎么安排的？")
    assert "要求" in asked_kinds("条例对技术服务机构如何要求？")
    assert "安排" not in asked_kinds("配额核定的安排公布了吗？")


def test_an_ordinal_asked_is_stated_by_an_ordinal_not_a_date():
    from qa.answer_types import question_form, required_shape

    question = "试行办法是生态环境部第几次部务会议审议通过的？"
    shape = required_shape(question, question_form(question))
    assert not shape.search("已于2020年12月25日由生态环境部部务会议审议通过")
    assert shape.search("经2020年12月25日生态环境部第十五次部务会议审议通过")


def test_a_ministrys_own_department_asked_is_named_by_it():
    from qa.answer_types import question_form, required_shape

    question = "陆新明是生态环境部哪个司局的？"
    shape = required_shape(question, question_form(question))
    assert shape.search("生态环境部应对气候变化司副司长陆新明")
    assert not shape.search("生态环境部会同有关部门加强跟踪调度")
    from qa.stated import names_asked_kind

    assert not names_asked_kind("方案由哪个司局牵头？", ["生态环境部会同有关部门加强跟踪调度。"])
    assert names_asked_kind("方案由哪个司局牵头？", ["由应对气候变化司牵头。"])


def test_a_date_for_other_sectors_does_not_answer_for_the_asked_one():
    from qa.answer_types import question_form, required_shape
    from qa.stated import states_asked

    steel = [
        "2025年5月10日前，省级生态环境主管部门将钢铁、水泥、铝冶炼行业重点排放单位名录向社会公布。"
    ]
    terms = ["行业", "重点", "排放", "单位", "名录", "公布"]
    for sector, stated in (("发电", False), ("钢铁", True)):
        question = f"{sector}行业的重点排放单位名录最晚哪天公布？"
        shape = required_shape(question, question_form(question))
        assert states_asked(steel, shape, [sector, *terms], question) is stated
    # asked about the others, the listed sectors answer
    others = "除了发电行业，其他行业的名录最晚哪天公布？"
    assert states_asked(steel, required_shape(others, "date"), ["发电", *terms], others)
    # a coal power plant is of the 发电 sector the notice names
    power = ["2025年6月30日前，省级生态环境主管部门完成发电行业重点排放单位核查，告知核查结果。"]
    plant = "我们是燃煤电厂，核查结果省里最晚什么时候告诉我们？"
    assert states_asked(power, required_shape(plant, "date"), ["核查", "结果"], plant)


def test_an_ordinal_event_the_question_names_must_be_in_the_texts():
    from qa.evidence import names_numbers
    from qa.search import Passage

    history = Passage(text="2000年4月29日第九届全国人民代表大会常务委员会第十五次会议第一次修订",
                      doc_id="law.md", title="大气污染防治法", source=None, date=None,
                      paragraph=1, score=1.0)  # fmt: skip
    assert names_numbers([history], ["修订"], "大气污染防治法的第一次修订是哪年？")
    assert not names_numbers([history], ["修订"], "大气污染防治法的第三次修订是哪年？")


def test_asked_who_signed_a_person_who_spoke_of_the_text_does_not_answer():
    from qa.answer_types import question_form, required_shape
    from qa.stated import states_asked

    question = "联合宣言中方是哪位官员签署的？"
    shape = required_shape(question, question_form(question))
    spoke = ["生态环境部应对气候变化司副司长陆新明就如何落实联合宣言回答记者提问。"]
    signed = ["联合宣言由生态环境部部长签署。"]
    terms = ["联合", "宣言", "官员"]
    assert not states_asked(spoke, shape, terms, question)
    assert states_asked(signed, shape, terms, question)


def test_a_share_the_question_states_itself_is_no_answer():
    from qa.answer_types import question_form, required_shape
    from qa.stated import states_asked

    manure = ["到2025年，畜禽粪污综合利用率达到80%以上，2030年达到85%以上。"]
    terms = ["畜禽", "粪污", "综合", "利用率"]

    def stated(question: str) -> bool:
        shape = required_shape(question, question_form(question))
        return states_asked(manure, shape, terms, question)

    assert stated("到2025年畜禽粪污综合利用率要达到多少？")
    assert stated("2030年畜禽粪污综合利用率要达到多少？")
    # The question's own 80% is its premise; the 85% of the same sentence is 2030's.
    assert not stated("甲烷方案说2025年畜禽粪污综合利用率要到80%以上，是从多少起步的？")


def test_a_status_word_in_quotation_marks_is_not_what_is_asked(
    tmp_path, fake_embedder, monkeypatch
):
    from test_trust import NEW_REVIEW

    from qa.doc_questions import status_quotes

    index = small_library(tmp_path, fake_embedder, monkeypatch, {"review-new.md": NEW_REVIEW})
    named = ["review-new.md"]
    assert status_quotes(index, "节能审查和碳排放评价办法还有效吗？", named) is not None
    rumour = "有人散布项目“马上要作废”的假消息，按节能审查和碳排放评价办法怎么罚？"
    assert status_quotes(index, rumour, named) is None


def test_an_english_question_may_name_a_chinese_term():
    from qa.followup import is_follow_up
    from qa.text import is_english

    assert is_english("Does the 双碳 opinion say China should write a carbon neutrality law?")
    assert is_english("What fine does the regulation set?")
    assert not is_english("条例里 MRV 是怎么要求的？")
    assert not is_english("CCER的MRV和PDD有什么要求？")
    # read as English, it has a topic of its own: not a follow-up
    assert not is_follow_up("Does the 双碳 opinion say China should write a carbon neutrality law?")


def test_a_sentence_that_sets_the_scene_names_no_thing_the_rule_must_name():
    from qa.parts import asking_sentences

    question = "县里一个项目没按节能审查意见建，群众想反映。按办法，日常监督归哪个部门管？"
    assert asking_sentences(question) == "按办法，日常监督归哪个部门管？"
    # a question that is all asking, or all scene, is kept whole
    assert asking_sentences("日常监督归哪个部门管？") == "日常监督归哪个部门管？"
    assert asking_sentences("群众想反映。") == "群众想反映。"


def test_the_figures_of_a_hypothetical_firm_are_its_case():
    from qa.evidence import names_numbers
    from qa.search import Passage

    rule = Passage(text="连续二年温室气体排放未达到2.6万吨二氧化碳当量的，从名录中移出。",
                   doc_id="m.md", title="办法", source=None, date=None, paragraph=1,
                   score=1.0)  # fmt: skip
    question = "一家水泥企业2023年排了2.5万吨、2024年排了2.7万吨，能被移出名录吗？"
    assert names_numbers([rule], ["2023", "2024", "名录"], question)
    assert not names_numbers([rule], ["2023", "名录"], "2023年的名录移出了哪些企业？")
    # a plan of the asker's, or a past act of the case, is dated by the case, not by a rule
    planned = "项目业主打算2026年3月申请登记，减排量最早能算到什么时候？"
    assert names_numbers([rule], ["2026", "登记"], planned)
    past = "2016年在发改委备案过的老项目，现在要不要重新登记？"
    assert names_numbers([rule], ["2016", "登记"], past)
    assert not names_numbers([rule], ["2016", "登记"], "2016年的项目要不要重新登记？")


def test_a_few_is_not_a_count_asked():
    from qa.answer_types import required_shape

    assert required_shape("全国有几家注册登记机构？", "number") is not None
    assert required_shape("有自媒体和几家机构串通散布假消息，会被怎么罚？", "penalty") is None


def test_asked_the_span_between_two_days_and_the_days_the_days_answer():
    from qa.answer_types import question_form, required_shape
    from qa.stated import states_asked

    passed = ["《条例》已经2024年1月5日国务院常务会议通过，现予公布，自2024年5月1日起施行。"]
    terms = ["条例", "常务会议", "通过", "施行"]
    both = "条例从常务会议通过到正式施行，中间隔了多久？分别是哪天？"
    assert states_asked(passed, required_shape(both, question_form(both)), terms, both)
    span = "条例从常务会议通过到正式施行，中间隔了多少个月？"
    assert not states_asked(passed, required_shape(span, question_form(span)), terms, span)


def test_asked_whether_something_is_done_the_quotes_must_say_it_of_it():
    from qa.stated import says_predicate

    premise = ["推动煤矿、油气田等大型排放源定期报告甲烷排放数据。"]
    assert not says_predicate("企业报上去的甲烷排放数据会不会向社会公开？", premise)
    assert not says_predicate("这些报告会向社会公开吗？", ["各地区每年向党中央、国务院报告。"])
    published = ["核查结果应当向社会公开。"]
    assert says_predicate("核查结果会不会向社会公开？", published)
    # a word the rules use for the asked one (罚 → 罚款) says it too
    assert says_predicate("情节严重的会被终身禁业吗？", ["情节严重的，终身禁止从事前述业务。"])
    assert says_predicate("核查结果在哪里公开？", premise)  # no yes-no predicate asked
    # an opinion that lapses (自动失效) has expired, as readers say (过期)
    lapsed = ["项目自出具节能审查意见之日起2年内未开工建设，节能审查意见自动失效。"]
    assert says_predicate("还没开工，这个审查意见会不会过期？", lapsed)
    # asked whether one may: 能不能顺延 is not said by a rule on the deadline itself
    deadline = ["重点排放单位应当按照规定的时限，足额清缴其碳排放配额。"]
    assert not says_predicate("复核期间清缴的期限能不能顺延？", deadline)
    assert says_predicate("清缴能不能用核证减排量抵销？", ["可以使用核证减排量抵销配额的清缴。"])


def test_an_everyday_word_names_the_rules_thing():
    from qa.answer_types import question_form, required_shape
    from qa.stated import states_asked

    question = "企业申请了复核，省厅最晚几个工作日要给结论？"
    quote = ["省级生态环境主管部门应当自接到复核申请之日起十个工作日内，作出复核决定。"]
    shape = required_shape(question, question_form(question))
    assert states_asked(quote, shape, ["复核", "结论"], question, rare=["结论"])


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Do the measures give the media a watchdog role?", "新闻媒体"),
        ("What does the opinion say about farmhouses?", "农房"),
        ("Must the validation report contain a pledge?", "承诺"),
        ("Does the opinion promise budget money for green industries?", "财政"),
        ("Must the authority consult the local department?", "征求"),
        ("How will China track methane in the air?", "大气"),
        ("Does the plan build up a pool of methane control experts?", "人才"),
        ("How soon must the authority say what is missing?", "补正"),
        ("Which high-carbon sectors will it restrict investment in?", "高碳"),
        ("When must construction have started?", "开工建设"),
        ("Must work have commenced by then?", "开工"),
        ("Does the law say China should burn less coal?", "降低"),
    ],
)
def test_english_words_the_policy_texts_say_in_their_own_words(english, chinese):
    from qa.crosslingual import english_terms

    assert any(chinese in term for term in english_terms(english))


def test_which_year_is_not_answered_by_a_baseline_year():
    from qa.answer_types import question_form, required_shape
    from qa.provisions import expand_terms

    question = "意见里到底定的是哪年达峰？"
    shape = required_shape(question, question_form(question))
    assert not shape.search("单位国内生产总值二氧化碳排放比2005年下降65%以上")
    assert shape.search("到2030年，经济社会发展全面绿色转型取得显著成效")
    assert "峰值" in expand_terms(["达峰"])  # the text says 二氧化碳排放量达到峰值


@pytest.mark.parametrize(
    "question",
    [
        "Which government department are we supposed to submit those methane reports to?",
        "To whom must the plant submit its annual report?",
        "Which provincial authorities decide on the allocation?",
    ],
)
def test_an_english_question_asking_which_organ_needs_one_named(question):
    from qa.answer_types import question_form, required_shape

    shape = required_shape(question, question_form(question))
    assert shape is not None and shape.search("由省级生态环境主管部门负责")
    assert not shape.search("推动大型排放源定期报告甲烷排放数据。")


def test_a_plant_is_named_by_its_sectors_key_emitters():
    from qa.answer_types import question_form, required_shape
    from qa.stated import states_asked

    question = "一家燃气电厂年排放2.55万吨，按通知，列入名录的排放门槛是多少？"
    shape = required_shape(question, question_form(question))
    rule = [
        "对发电、钢铁、水泥、铝冶炼行业年度直接排放量达到2.6万吨二氧化碳当量的单位，应当列入名录。"
    ]
    assert states_asked(rule, shape, ["电厂", "排放", "名录"], question, rare=["电厂"])
    other = ["对民用航空行业年度直接排放量达到2.6万吨二氧化碳当量的单位，应当列入名录。"]
    assert not states_asked(other, shape, ["电厂", "排放", "名录"], question, rare=["电厂"])


def test_the_noun_that_sums_up_a_list_the_question_gave_is_no_thing_asked():
    from qa.answer_types import question_form
    from qa.stated import things

    question = "注册登记机构在项目登记、减排量登记和项目注销这几个环节，分别要向社会公开哪些情况？"
    assert "环节" not in things(question, ["环节", "注册", "登记", "机构"])
    assert question_form(question) != "number"  # 这几个 points back; it asks no count
    assert "环节" in things("哪个环节要向社会公开？", ["环节"])


@pytest.mark.parametrize("question", ["2021年陆新明说要研究制定减排措施，后来方案对污水处理定了什么要求？",
                                      "陆新明2021年表示要修订办法，后来方案对污水处理定了什么要求？"])  # fmt: skip
def test_the_year_someone_spoke_is_no_year_a_rule_must_name(question):
    from qa.evidence import names_numbers
    from qa.search import Passage

    rule = Passage(text="加强污水处理领域甲烷收集利用。", doc_id="plan.md", title="方案",
                   source=None, date=None, paragraph=1, score=1.0)  # fmt: skip
    assert names_numbers([rule], ["2021", "污水"], question)
    assert not names_numbers([rule], ["2021", "污水"], "2021年对污水处理定了什么要求？")


@pytest.mark.parametrize("question", ["陆新明21年说要完善甲烷数据报告制度 后来甲烷方案具体咋安排的 哪些排放源得报",
                                      "陆新明在发布会上表示要修订办法，后来方案对污水处理定了什么要求？"])  # fmt: skip
def test_who_said_what_the_question_starts_from_is_no_thing_asked(question):
    from qa.stated import things

    assert "陆新明" not in things(question, ["陆新明", "方案", "污水"])
    assert "陆新明" in things("陆新明担任什么职务？", ["陆新明", "职务"])


@pytest.mark.parametrize(
    ("question", "whose"),
    [
        ("按中国暂行条例，一家钢厂少清缴了2万个配额，罚款区间是多少？", "中国"),
        ("这一要求在节能审查的规章里落到了哪里？省级部门具体要承担什么职责？", "规章"),
    ],
)
def test_whose_rules_are_asked_is_no_thing_a_quote_must_name(question, whose):
    from qa.stated import things

    terms = [whose, "配额", "罚款", "节能", "审查", "职责"]
    assert whose not in things(question, terms)
    assert "罚款" in things(question, terms) or "职责" in things(question, terms)


def test_the_day_a_text_takes_effect_answers_only_when_it_applies(
    tmp_path, fake_embedder, monkeypatch
):
    from qa import answer, evidence

    monkeypatch.setattr(evidence, "BIAS", 1e9)  # which sentence leads, whatever the decision
    library = review_rules(
        tmp_path, fake_embedder, monkeypatch,
        "第十九条　项目自节能审查机关出具节能审查意见之日起2年内未开工建设，节能审查意见自动失效。",
        "第三十四条　本办法自2025年9月1日起施行。原《固定资产投资项目节能审查办法》同时废止。",
    )  # fmt: skip
    asked = answer("固定资产投资项目拿到节能审查意见后，最晚什么时候要开工？", index=library)
    assert "2年内未开工建设" in asked.citations[0].quotes[0]
    applies = answer("固定资产投资项目节能审查办法什么时候起施行？", index=library)
    assert "2025年9月1日起施行" in applies.citations[0].quotes[0]


def test_a_fine_of_the_value_traded_is_an_amount():
    from qa.answer_types import question_form, required_shape

    asked = "交易机构的工作人员私下参与碳排放权交易，除没收违法所得外还可以罚款多少？"
    shape = required_shape(asked, question_form(asked))
    assert shape.search("可以并处所交易碳排放配额等产品的价款等值以下的罚款")
    assert not shape.search("属于国家工作人员的，还应当依法给予处分")


def test_the_kind_a_list_question_ends_with_is_answered_by_a_list_of_them():
    from qa.answer_types import enumeration_of

    conditions = enumeration_of("想申请成为CCER审定与核查机构，在人员和信用方面有哪些硬性条件？")
    assert conditions.search("审定与核查机构应当具备相应能力，并且符合以下条件：")
    # 要报告 is what is asked of the 行业, not a kind of thing listed
    sectors = enumeration_of("哪些行业要报告？")
    assert sectors.search("发电、钢铁、水泥行业") and not sectors.search("提交以下报告：")


def test_a_yes_no_english_question_asks_what_its_last_words_say():
    from qa.crosslingual import asked_predicate_words

    question = "Are the results of the assessments of provincial air quality targets made public?"
    assert {"公开", "公布"} <= asked_predicate_words(question)
    assert not asked_predicate_words("Which results are made public?")  # asks which, not whether


def test_a_yes_no_english_question_is_answered_by_the_sentence_that_says_it(
    tmp_path, fake_embedder, monkeypatch
):
    from qa import answer, evidence

    monkeypatch.setattr(evidence, "BIAS", 1e9)  # which sentence leads, whatever the decision
    law = ("---\ntitle: 大气污染防治法\n---\n\n第四条　国务院生态环境主管部门对省、自治区、直辖市"
           "大气环境质量改善目标、大气污染防治重点任务完成情况进行考核。考核结果应当向社会公开。\n")  # fmt: skip
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"law.md": law})
    question = "Are the results of the assessments of provincial air quality improvement targets made public?"
    assert "考核结果应当向社会公开" in answer(question, index=library).citations[0].quotes[0]
