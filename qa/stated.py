"""Whether the quotes state the fact a question asks for, of the asked thing: a figure, a date
or a title in a clause about it (not of another year, measure, act or provision), a list the
texts hold rather than leave to another instrument. The answer-or-decline decision
(qa.evidence) weighs the verdict as its not_stated feature."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from qa.answer_types import (
    QUANTITY,
    SAME_TIME,
    SYNONYMS,
    asked_act,
    asked_measure,
    asked_span_act,
)
from qa.evidence import case_kind, is_topic_word
from qa.parts import asking_sentences, without_scene
from qa.structure import NUMERAL
from qa.text import normalize, tokenize


def states_asked(quotes: Sequence[str], shape: re.Pattern, terms: Sequence, question: str,
                 before: Sequence[str] = (), rare: Sequence[str] = (),
                 titles: Sequence[str] = (), provisions: Sequence[str] = ()) -> bool:  # fmt: skip
    """True when a clause of the quotes holds the asked kind of fact (a figure, a date, a title)
    for what was asked: in a quote with one of the question's topic words, and, when the
    question names a year, not under another year's heading (到2025年，煤矿瓦斯年利用量达到
    60亿立方米；到2030年，油田伴生气… gives no figure for 2030). `before` holds, per quote, its
    passage's text before it: a year heading there (到2030年，…。森林覆盖率达到25%左右) scopes
    the quote too. `titles` holds, per quote, its document's title, which says what it is about
    (牡蒿 for 分布于福建、辽宁…; a heading doesn't: 污水 heads a section that gives 污泥's rate).
    A quote of （联系人姓名及电话从略。） and a numbered heading gives no telephone number.
    `provisions` holds, per quote, the article (or paragraph) it is of: a rare thing of the
    question must be named within the provision that states the figure."""
    numbers = re.findall(r"\d{2,}", question)
    # A share the question states itself (定了80%以上的目标，那秸秆呢) is its premise, not the answer.
    premises = _STATED_SHARE.findall(question)
    years = set(re.findall(r"\d{4}", question))
    periods = set(re.findall(r"(\d{4})年度", question))
    words = [t for t in terms if not isinstance(t, str) or (is_topic_word(t) and not t.isdigit())]
    leads = [normalize(titles[i]) if i < len(titles) else "" for i in range(len(quotes))]
    # What the quotes say, with their titles and the text before each in its paragraph
    # (节能审查申报材料…。相关材料不符合要求的…)
    around = normalize("".join(quotes)) + "".join(leads) + normalize("".join(before))
    # A rare word of the question (风险基金, in one article) must be named within the provision
    # that states the figure, else the quotes state a figure of something else: 项目档案 named by
    # 第三十九条 and 保存十年 by 第十八条 is no answer; 虚假核证自愿减排量 in 第二款 and 三年内
    # 不再受理 in 第一款 is one. A quote whose provision is unknown is one by itself.
    rare = [t for t in rare if t in words]
    said_in: dict[object, str] = defaultdict(str)
    units = [
        provisions[i] if i < len(provisions) and provisions[i] else i for i in range(len(quotes))
    ]
    for i, quote in enumerate(quotes):
        said_in[units[i]] += normalize((before[i] if i < len(before) else "") + quote)
    # A figure of another measure of the asked thing (瓦斯利用量 for 瓦斯抽采量) doesn't answer.
    measure = asked_measure(question)
    # A word may sit inside the measure's name (瓦斯利用量 asked, 瓦斯年利用量 stated; 年排放量
    # asked, 年度直接排放量 stated), within a few characters in all.
    if measure and not any(
        len(m.group()) <= len(measure) + 4
        for m in re.finditer(".{0,3}?".join(map(re.escape, measure)), around)
    ):
        return False
    # A span of another act (5年内禁止从事 for 保存几年) doesn't answer.
    act = asked_act(question)
    if act and act not in around:
        return False
    span_act = asked_span_act(question)
    effect = shape is not QUANTITY and _EFFECT_ASKED.search(question)
    done = _WHO_DID.search(question)
    # 签署, 签发, 签字: any signing is said with 签
    did = done and ("签" if done.group(1).startswith("签") else done.group(1))
    sectors = set() if _EXCEPT.search(question) else _sectors(question)
    # Only the topic words the quotes use at all: a question's words may all be said otherwise
    # (or name the document), and then no sentence can be told from another by them.
    words = [
        t for t in words if any(_holds(t, lead + normalize(q)) for q, lead in zip(quotes, leads))
    ]
    for position, quote in enumerate(quotes):
        text = normalize(quote)
        lead = leads[position]
        earlier = normalize(before[position]) if position < len(before) else ""
        # A quote runs on about one thing (纽西兰鸡毛松…。它…高达…米): its topic words may sit
        # in an earlier sentence than its figure, or in its title.
        if words and not any(_holds(t, lead + text) for t in words):
            continue
        if any(not _abbreviates(t, lead + said_in[units[position]]) for t in rare):
            continue
        previous = ""
        for clause in _clauses(text, by_year=shape is QUANTITY):
            # 第四十七条 numbers a provision: it is not a figure of the rule.
            rest = _ITEM_NUMBER.sub("", _PROVISION_NUMBER.sub("", clause.group()))
            for premise in premises:
                rest = rest.replace(premise, "")
            for number in numbers:
                rest = rest.replace(number, "")
            if shape is QUANTITY:  # 到2025年 is when, not how much
                rest = _YEAR_NAMED.sub("", rest)
            # 原《…》同时废止 happens when the clause before says (本办法自2025年9月1日起施行)
            rest, previous = (previous + rest if SAME_TIME.search(rest) else rest), rest
            scope = re.findall(r"到(\d{4})年", earlier + text[: clause.end()])
            # 到2025年，…达到80%以上，2030年达到85%以上: a year in the clause is its own scope.
            own_year = shape is QUANTITY and re.match(r"(\d{4})年", clause.group())
            in_scope = (own_year.group(1) in years if own_year else
                        not scope or scope[-1] in years or any(y in clause.group() for y in years))  # fmt: skip
            # The figure is said of the asked thing: a topic word in its clause or before it
            # (到2025年，煤矿瓦斯…60亿立方米 gives no 2025 figure for 油田伴生气, said after it).
            said_of = lead + text[: clause.end()]
            # A lead-in's figure is said of the items it lists (有下列情形之一的，处5万元以上…：
            # （二）未按照规定报送排放统计核算数据).
            if _LEADS_LIST.match(text, clause.end()):
                said_of = lead + text
            about = not words or any(_holds(t, said_of) for t in words)
            # 2025年度 asked: a clause about 2024年度 (with a 2025年…前 deadline) is another year's.
            named_periods = re.findall(r"(\d{4})年度", text[: clause.end()])
            in_period = not periods or not named_periods or named_periods[-1] in periods
            for_act = not span_act or _span_for(rest, shape, span_act)
            # 哪天开始施行: the date it takes effect, not the day it was revised or signed.
            for_act = for_act and (not effect or bool(_EFFECT_SAID.search(rest)))
            # 哪位官员签署的: the person said to sign, not one who spoke of the signed text.
            for_act = for_act and (not did or did in said_of)
            # 发电行业的名录 asked: a date for 钢铁、水泥、铝冶炼行业's is another sector's.
            if sectors:
                sentence = text[text.rfind("。", 0, clause.start()) + 1 : clause.end()]
                named_sectors = _sectors(sentence)
                for_act = for_act and (not named_sectors or bool(named_sectors & sectors))
            if shape.search(rest) and (not years or in_scope) and about and in_period and for_act:
                return True
    return False


_SECTORS = re.compile(
    r"发电|钢铁|水泥|铝冶炼|电解铝|石化|化工|建材|造纸|航空|有色|平板玻璃|煤电|电厂"
)
# 燃煤电厂 and 煤电 are of the 发电 sector the notices name; 电解铝 is 铝冶炼.
_SECTOR_OF = {"煤电": "发电", "电厂": "发电", "电解铝": "铝冶炼"}


def _sectors(text: str) -> set[str]:
    return {_SECTOR_OF.get(s, s) for s in _SECTORS.findall(text)}


_EXCEPT = re.compile(r"除了|除[^，,。？?]{1,20}外|以外|之外")
_WHO_DID = re.compile(
    r"(?:谁|哪位[^，,。？?]{0,4}|哪个[^，,。？?]{0,4})(签署|签发|签字|批准|印发|主持|宣布)"
)
_EFFECT_ASKED = re.compile(
    r"(?:哪天|哪一天|何时|什么时候|几号|哪年|日期)[^，,。？?]{0,6}?(?:施行|生效|实施)"
    r"|(?:施行|生效|实施)(?:日期|时间)|\b(?:take|took|taken) effect\b|\bcome into (?:force|effect)\b"
    r"|\beffective (?:date|from)\b",
    re.I,
)
# 自2024年5月1日起施行, 本办法自公布之日(2023年10月20日)起施行.
_EFFECT_SAID = re.compile(r"施行|生效|实施")


_STATED_SHARE = re.compile(r"\d+(?:\.\d+)?\s*[%％]")  # not answer_types._SHARE, the asked shape
# A clause ends at ；。！？ or a line; a year after a comma opens a clause of its own
# (到2025年，…达到80%以上，2030年达到85%以上 says two years' figures).
_CLAUSE = re.compile(r"[^；;。！？!?\n]+?(?=[，,]\d{4}年|[；;。！？!?\n]|$)")
_REST = re.compile(r".+", re.S)
_WHOLE_CLAUSE = re.compile(r"[^；;。！？!?\n]+")


def _clauses(text: str, by_year: bool):
    """The clauses of a quote, each a match over the whole text. Of a figure (by_year), a year
    after a comma opens a clause of its own; of a date it doesn't (2024年度配额…，2025年9月30日前
    完成 is one date of one thing)."""
    for match in (_CLAUSE if by_year else _WHOLE_CLAUSE).finditer(text):
        if match.group().startswith(("，", ",")) and re.match(r"[，,]\d{4}年", match.group()):
            match = _REST.match(text, match.start() + 1, match.end())
        yield match


def _span_for(clause: str, shape: re.Pattern, act: Sequence[str]) -> bool:
    """A span in the clause is for the asked act: the act follows it (自接到通知之日起七个工作日内，
    向…申请复核 is a span for 申请复核, not for 通知), or precedes it when nothing follows."""
    for span in shape.finditer(clause):
        after = clause[span.end() :].lstrip("内之，, ")
        said = after if after.strip() else clause[: span.start()]
        if any(w in said or any(s in said for s in SYNONYMS.get(w, ())) for w in act):
            return True
    return False


# 高污染燃料的目录由国务院生态环境主管部门确定; 行业范围…等，由国家发展改革委另行规定
_LEFT_TO = re.compile(
    r"([\u4e00-\u9fff、]{2,20}?)等?[，,]?由[^，。；]{2,30}?(?:另行)?(?:确定|制定|规定|公布)"
)
_SPECIFICS_ASKED = re.compile(r"具体|哪些|哪几")


def asks_specifics(question: str, form: str | None) -> bool:
    """A list question asking what something holds in particular (承诺书具体要写哪些内容)."""
    return form == "list" and "具体" in question


def names_all(quotes: Sequence[str], things: Sequence[str]) -> bool:
    """The quotes name each of the things, whole or abbreviated."""
    quoted = normalize("".join(quotes))
    return all(_abbreviates(t, quoted) for t in things)


# A yes-no question's predicate: 数据会不会向社会公开, 提意见要不要实名, 年度报告会向社会公开吗.
_YES_NO = re.compile(
    r"(?:会不会|要不要|需不需要|用不用|是否会|是否要|是否需要|能不能|可不可以|能否|可否|是否可以|是否能)([^？?。！!，,]{2,20})"
    r"|会([^？?。！!，,]{2,16})吗"
)


def says_predicate(question: str, quotes: Sequence[str]) -> bool:
    """Asked whether something will, must or may be done (会不会向社会公开, 要不要实名, 能不能
    顺延), the quotes say that of it: a word of the predicate is in them. A quote of the question's own
    premise (企业定期报告甲烷排放数据) says nothing of whether the data are published."""
    quoted = normalize("".join(quotes))
    for match in _YES_NO.finditer(question):
        predicate = match.group(1) or match.group(2)
        words = [w for w in tokenize(predicate) if len(w) >= 2 and is_topic_word(w)]
        said = [w for w in words if w in quoted or any(s in quoted for s in SYNONYMS.get(w, ()))]
        if words and not said:
            return False
    return True


def leaves_to_another(question: str, quotes: Sequence[str], form: str | None) -> bool:
    """True when the question asks what a list holds (这个目录里具体列了哪些燃料？) and the quote
    says who is to set it (高污染燃料的目录由国务院生态环境主管部门确定): the list is in another
    instrument, not in the texts. Asked who sets it, that quote answers."""
    if form == "who" or not _SPECIFICS_ASKED.search(question):
        return False
    asked = normalize(question)
    for match in _LEFT_TO.finditer(normalize("".join(quotes))):
        # the list the question names (高污染燃料的目录), not a word of every rule (项目)
        shared = {w for w in tokenize(match.group(1)) if len(w) >= 2 and w in asked}
        if sum(map(len, shared)) >= 4:
            return True
    return False


def _abbreviates(term: str, text: str) -> bool:
    """The text names the term, whole or as the longer wording it abbreviates (按规定 in 按照规定;
    风险基金 not in 风险防控制度…基金): its characters in order, at most two apart."""
    if not isinstance(term, str):  # an English term: any of its translations
        return any(_abbreviates(word, text) for word in term)
    if term in text or any(word in text for word in SYNONYMS.get(term, ())):
        return True
    return bool(re.search(".{0,2}".join(map(re.escape, term)), text))


_LEADS_LIST = re.compile(r"[^。！？!?\n]*[：:]\s*(?:\n|（[一二三四五六七八九十]+）)")
_YEAR_NAMED = re.compile(r"\d{4}\s*年度?")
_PROVISION_NUMBER = re.compile(rf"第{NUMERAL}[编章节条款项目]")
# 3.全国碳排放权交易市场…清单, （二）…, 一、…: an item's number is not a figure of the rule.
_ITEM_NUMBER = re.compile(
    r"^\s*(?:\d{1,2}[.．、](?!\d)|（[一二三四五六七八九十]+）|[一二三四五六七八九十]+、)"
)


# Words that say whose or which rules are asked (按中国暂行条例, 节能审查的规章里): every quote
# is of such a rule, and none need name it.
_WHOSE_RULES = {"中国", "我国", "规章", "法律", "法规", "行政法规", "部门规章", "文件"}


def things(question: str, terms: Sequence) -> list[str]:
    """The question's words that name things (its nouns: 风险基金, 煤炭), not acts (瞒报, 反馈)."""
    from qa.text import nouns

    named = nouns(question)
    # 项目登记、减排量登记和项目注销这几个环节: the noun after 这几个 sums up the things listed.
    summing = set(re.findall(r"[这那](?:几|两|三|四|五)?[个项类些种](\w{2})", question))
    return [t for t in terms if isinstance(t, str) and is_topic_word(t) and t in named
            and t not in summing and t not in _WHOSE_RULES
            and not re.search(_SPEAKER.format(re.escape(t)), question)]  # fmt: skip


# Who said what the question starts from (陆新明21年说要完善…，后来方案咋安排的): the speaker
# is the premise's, not a thing the rule asked about must name.
_SPEAKER = r"{}\s*(?:(?:19|20)?\d{{2}}\s*年|当时|曾经?|也|还|在[^，,。？?]{{1,12}}?[时上])*(?:说|表示|指出|提到|称|讲)"


def english_things(terms: Sequence[frozenset[str]]) -> list[frozenset[str]]:
    """The English question's terms that name things: a translation is a noun (检查人员 of
    inspectors), not only verbs (来自 of "come from", 出席 of "be present")."""
    from qa.text import nouns

    return [t for t in terms if t and any(nouns(w) for w in t if is_topic_word(w))]


def english_unknown(terms: Sequence[frozenset[str]], held: dict[str, int]) -> list[str]:
    """The English question's things the library holds none of the translations of (visa →
    签证), each by its longest translation; `held`: the passages holding each translation. Only
    a thing is unknown, as of a Chinese question: a verb's translations (writes → 书写, stay →
    下榻) are only what the texts say otherwise; a one-character one (铝 of aluminium) is held
    inside words (电解铝), not alone."""
    things = set(english_things(terms))
    return [max(sorted(t), key=len) for t in terms
            if t in things and any(len(w) > 1 for w in t)
            and all(held.get(w) == 0 for w in t)]  # fmt: skip


# A word held by no more than this share of the passages names a specific thing (风险基金);
# on dev, 3 and 8 of 437 passages decided alike.
RARE_SHARE = 0.01


def rare_things(index, question: str, evidence: Sequence, shape: re.Pattern | None,
                form: str | None, english: bool, cap: int, held: dict[str, int]) -> list:  # fmt: skip
    """The things of the question a quote must name to state what is asked of them: few passages
    hold them (qa.search.Index.passage_counts). `held`: of an English question, the passages
    holding each translation."""
    few = max(3, round(RARE_SHARE * index.size))
    if (shape is not None or asks_specifics(question, form)) and not english:
        # A thing of the scene (群众想反映。) is no thing the rule must name.
        asked = without_scene(asking_sentences(question))
        counts = index.passage_counts(things(asked, evidence), cap + 1)
        own_kind = case_kind(question)
        return [t for t in specific_things(counts, few, cap) if t not in own_kind]
    if shape is not None and english:
        # Only the rarest English things count: a translation of a general word (sources →
        # 来源) may be the fewest held, and not asked.
        counts = {t: max(held.get(w, 0) for w in t) for t in english_things(evidence)}
        return specific_things(counts, few, few)
    return []


def specific_things(counts: dict[str, int], rare: int, at_most: int) -> list[str]:
    """The things a quote must name to state a figure of them: each held by at most `rare`
    passages (风险基金), and those the fewest passages hold (污水, not 城市 or 生活, of 城市生活
    污水集中收集率) if at most `at_most` do. `counts`: passages holding each, as
    Index.passage_counts gives them; a thing no passage holds is left to the unknown-word signal."""
    held = {t: c for t, c in counts.items() if c > 0}
    fewest = min(held.values(), default=0)
    return [t for t, c in held.items() if c <= rare or (c == fewest and c <= at_most)]


def _holds(term, text: str) -> bool:
    if isinstance(term, str):
        return term in text
    return any(word in text for word in term)  # an English term: any of its translations


# The kind of named thing a question asks for (哪个网站, 哪家单位): an answer names one, by the
# kind's word or by one its members are named by (生态环境部 is a 部门, 领导小组 a 机构).
_KIND_ASKED = re.compile(r"(?:哪个|哪家|哪些|哪几个|哪几家|哪一个|哪一家|哪类|哪种|哪几类|哪几种|哪几)"
                         r"([\u4e00-\u9fff]{2})")  # fmt: skip
_ORGANS = "部门|部|委|局|厅|机关|政府|署|办"
_MEMBERS = {
    "部门": _ORGANS,
    "机构": f"机构|{_ORGANS}|中心|所|院|会|小组",
    "单位": f"单位|企业|机构|公司|{_ORGANS}|中心|所|院|会",
    "厅局": "厅|局",
    "网站": "网站|网址|平台|http",
    "平台": "平台|网站|网址|系统",
    "系统": "系统|平台",
    "会议": "会议|大会|会",
    "等级": "等级|[A-DＡ-Ｄ甲乙丙丁一二三四五]级|档",  # 一级、二级; not 省级
    "司局": "司|局",  # 应对气候变化司: a ministry's own department, not the ministry
    "法院": "法院",
}


def names_asked_kind(question: str, quotes: Sequence[str]) -> bool:
    """False when the question asks which thing of a named kind (哪个网站) and no quote names
    one: 核查结果应当向社会公开 doesn't say on which website."""
    text = normalize("".join(quotes))
    kinds = [k for k in _KIND_ASKED.findall(question) if k in _MEMBERS]
    return all(re.search(_MEMBERS[k], text) for k in kinds)


def article_states(question: str, texts: Sequence[str], shape: re.Pattern | None,
                   english: bool) -> bool:  # fmt: skip
    """Whether an article looked up by its number (`texts`, its passages) holds what the
    question asks of it: the asked shape (第二十一条…按多大比例核减？ needs a share), the asked
    kind of thing (依照第二十五条…应当向哪个法院起诉？ needs a 法院), the predicate a yes-no
    question asks. What an article says (讲的是什么) it always holds."""
    if shape is not None and not any(shape.search(t) for t in texts):
        return False
    return english or (names_asked_kind(question, texts) and says_predicate(question, texts))


def lists_specifics(question: str, quotes: Sequence[str], form: str | None) -> bool:
    """False when a list question asks for the specifics of something it names (联合惩戒措施具体
    有哪些) and every quote that names it stops there (依法依规实施联合惩戒措施。): no item, no
    enumeration follows it in its sentence."""
    singled = _SINGLED_OUT.search(question)
    if singled:
        # 他点名了哪些重点区域: the quote that names 重点区域 must go on to name some.
        return _items_follow(singled.group(1), quotes)
    if not asks_specifics(question, form):
        return True
    before = question.split("具体")[0]
    # 为了多增加森林碳汇，具体点了哪几项行动: a purpose names the goal, not what is listed.
    before = re.sub(r"为了[^，,]*[，,]?$", "", before)  # not the 为 of 行为, 作为
    named = [t for t in tokenize(before) if is_topic_word(t) and not t.isdigit()]
    if not named:
        return True
    noun = named[-1]
    text = normalize("".join(quotes))
    places = [m.end() for m in re.finditer(re.escape(noun), text)]
    if not places:
        return True  # the quotes say it otherwise: other checks judge them
    return any(_ENUMERATES.search(re.split(r"[。！？!?]", text[end:], maxsplit=1)[0])
               for end in places)  # fmt: skip


_ENUMERATES = re.compile(r"、|：|:|；|包括|（[一二三四五六七八九十]+）|\d\.")
# Asked which ones were singled out (点名了哪些重点区域): the kind after 哪些 is named by a quote.
_SINGLED_OUT = re.compile(
    r"(?:点名|点了名|指名|列举|列出|举出)了?(?:哪些|哪几[个类项种家处]?)([\u4e00-\u9fff]{2,8})"
)
# What follows a kind to name its members: 重点区域包括…, 重点区域（京津冀…）, 重点区域：; not the
# 、 of 重点区域、重点企业, where the kind is itself one of a list.
_MEMBERS_FOLLOW = re.compile(r"^[^。！？；]{0,4}?(?:包括|包含|涵盖|：|:|（|如|即|是指|为)")


def _items_follow(kind: str, quotes: Sequence[str]) -> bool:
    noun = next((t for t in reversed(tokenize(kind)) if is_topic_word(t)), kind)
    text = normalize("".join(quotes))
    places = [m.end() for m in re.finditer(re.escape(noun), text)]
    return not places or any(_MEMBERS_FOLLOW.search(text[end:]) for end in places)
