"""Which documents a question names: by its title (碳排放权交易管理办法（试行）), by a long run of
it, by its kind alone when the library holds one of that kind (意见中…), or, in English, by the
title's words in any order. qa/answer.py, qa/provisions.py and qa/governing.py read these."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from qa.structure import NUMERAL
from qa.text import normalize

if TYPE_CHECKING:
    from qa.search import Index

# What readers shorten a title's words to, just before its kind (双碳意见, 碳市场条例, 大气法).
_SHORTHANDS = {"双碳": "碳达峰碳中和", "碳市场": "碳排放权交易", "大气": "大气污染防治"}
_SHORTHAND = re.compile(rf"({'|'.join(_SHORTHANDS)})(?=(?:条例|办法|意见|方案|法)(?!律|规))")


def _spelled_out(text: str) -> str:
    return _SHORTHAND.sub(lambda m: _SHORTHANDS[m.group(1)], text)


# 碳排放权交易管理暂行条例 is named as 条例, 暂行条例 or its full title; these are the words of a
# title that name its kind, and the generic words a title starts with.
_KINDS = ("条例", "办法", "意见", "方案", "通知", "规定", "决定", "法")
_QUALIFIED_KINDS = ("暂行条例", "条例", "暂行办法", "办法", "行动方案", "方案", "意见", "通知")
_TITLE_NOISE = re.compile(
    r"^(?:中共中央\s*国务院|国务院|生态环境部|国家发展改革委)?关于|（[^）]*）|[\s《》]"
)


def title_core(title: str) -> str:
    return _TITLE_NOISE.sub("", title or "")


def document_years(index: Index) -> dict[str, set[str]]:
    """Per doc id, the years it was issued or took effect: 2020年那个办法 is the one of 2020."""
    authorities = index.authorities()
    years = {}
    for doc in index.documents():
        authority = authorities.get(doc["doc_id"])
        effective = authority.effective if authority is not None else None
        years[doc["doc_id"]] = {date[:4] for date in (doc.get("date"), effective) if date}
    return years


def named_documents(question: str, documents: Sequence[dict],
                    years: Mapping[str, set[str]] | None = None) -> list[str]:  # fmt: skip
    """Ids of the documents the question names, best first: by a long run of its title, or by
    its kind (条例, 意见 …) when only one document of that kind is in the library, or by its
    kind and year (2020年那个办法) given `years`, per doc id the years it was issued or took
    effect."""
    text = _spelled_out(normalize(question))
    # 2020年那个办法 names one document, whatever runs of titles the topic shares (全国碳排放权).
    dated = DATED_KIND.search(text)
    if years and dated:
        held = [d["doc_id"] for d in documents
                if normalize(title_core(d["title"])).endswith(dated.group(2))
                and dated.group(1) in years.get(d["doc_id"], ())]  # fmt: skip
        if len(held) == 1:
            return held
    # 按条例 names the one 条例, whatever runs of other titles the topic shares (全国碳排放权…).
    by_kind = _one_named_by_kind(text, documents)
    scored = []
    for doc in documents:
        core = normalize(title_core(doc["title"]))
        longest = longest_common_run(text, core)
        if longest >= 6 or (core and longest >= len(core) - 1):
            # 暂行条例 in the question tells the 条例 from the 办法 that share 碳排放权交易.
            kind = next((k for k in _QUALIFIED_KINDS if core.endswith(k) and k in text), "")
            scored.append((longest + len(kind), doc["doc_id"]))
    titles = {d["doc_id"]: d["title"] for d in documents}
    if by_kind and not any(normalize(title_core(titles[doc_id])).endswith(by_kind[1])
                           for _, doc_id in scored):  # fmt: skip
        also = [doc_id for _, doc_id in sorted(scored, reverse=True)
                if _named_as_document(text, titles[doc_id])]  # fmt: skip
        return [by_kind[0], *also]
    if scored:
        best = max(length for length, _ in scored)
        return [doc_id for length, doc_id in sorted(scored, reverse=True) if length >= best - 2]
    for kind in _KINDS:
        if kind in text:
            holders = [d for d in documents if title_core(d["title"]).endswith(kind)]
            if len(holders) == 1 and _names_by_kind(text, kind, holders[0]["title"]):
                return [holders[0]["doc_id"]]
            # 自愿减排办法: words of one title run up to its kind, as readers shorten it
            shortened = [d["doc_id"] for d in holders
                         if _run_before_kind(text, normalize(title_core(d["title"])), kind)]  # fmt: skip
            if len(shortened) == 1:
                return shortened
    # 试行办法 is what readers call a 办法（试行）; when two texts answer to it, it names both.
    loose = _LOOSE_KIND.search(text)
    if loose:
        qualifier, kind = loose.groups()
        held = [d["doc_id"] for d in documents
                if title_core(d["title"]).endswith(kind) and qualifier in d["title"]]  # fmt: skip
        if 1 <= len(held) <= 2:
            return held
    return []


# 试行办法, 暂行条例: a text named as readers shorten it; not one the question compares with
# (还是像试行办法那样…吗？ asks what governs now).
_LOOSE_KIND = re.compile(r"(?<![像跟同])(试行|暂行)(办法|条例)(?!那样|一样|那种)")


# 2020年那个办法, 2023年的方案: a document named by its kind and the year it came out.
_THAT = "(?:那个|这个|那份|这份|那部|的)?"
DATED_KIND = re.compile(
    rf"(\d{{4}})年(?!度){_THAT}(?:[\u4e00-\u9fff]{{0,10}}?)(?:试行|暂行)?({'|'.join(_KINDS)})"
)


# 2020年那部…办法（试行）: the year names the document, it asks for no year's content.
_DOCUMENT_YEAR = re.compile(rf"\d{{4}}年{_THAT}(?=[^，,。？?；;]*?(?:{'|'.join(_KINDS)}))")


def without_document_years(question: str) -> str:
    """The question without the years that name its documents (2020年那个办法, 2021年的意见)."""
    return _DOCUMENT_YEAR.sub("", question)


def named_as_documents(question: str, documents: Sequence[dict],
                       named: Sequence[str] | None = None) -> list[str]:  # fmt: skip
    """The named documents (`named`, else named_documents) that the question names as a
    document: by the end of the title (碳排放权交易管理办法), or by its kind used as a name (意见中)
    — not by words a title shares with the topic (全国碳排放权交易市场 of the 2025 通知)."""
    text = _spelled_out(normalize(question))
    titles = {d["doc_id"]: d["title"] for d in documents}
    named = named_documents(question, documents) if named is None else named
    return [doc_id for doc_id in named if _named_as_document(text, titles[doc_id])]


def _named_as_document(text: str, title: str) -> bool:
    core = normalize(title_core(title))
    kind = next((k for k in _KINDS if core.endswith(k)), None)
    # 2020年那个办法 names the one 办法 of that year (named_documents chose it) as a document.
    dated = any(m.group(2) == kind for m in DATED_KIND.finditer(text))
    # 按试行办法 names the 办法（试行）
    loose = any(m.group(2) == kind and m.group(1) in title for m in _LOOSE_KIND.finditer(text))
    return kind is not None and (
        core[-len(kind) - 2 :] in text
        or _kind_as_name(text, kind, core)
        or dated
        or loose
        or _run_before_kind(text, core, kind)
    )


def _run_before_kind(text: str, core: str, kind: str) -> bool:
    """碳达峰碳中和意见, 甲烷排放控制方案: words of the title run up to its kind, which names
    the document as readers shorten it."""
    for match in re.finditer(kind, text):
        before = text[: match.start()]
        if any(before[-size:] in core for size in range(4, min(len(before), 12) + 1)):
            return True
        # 甲烷方案: the title's first words and its kind
        if len(before) >= 2 and core.startswith(before[-2:]):
            return True
    return False


# 法律上有没有硬性要求, 按上位的行政法规: the question asks what a level of law says, whichever
# text of that level the library holds — not 法律责任, 法律法规, or the 法律 a text lists.
# 节能审查的规章里 asks the 部门规章 as well.
_LEVEL_NAMED = {
    level: re.compile(
        rf"(?:按|依照|根据|上位的?|现行的?|现在的?){name}"
        rf"|{name}(?:上|里|中|层面|有没有|有无|是否|本身|规定|怎么|对)"
    )
    for level, name in (("法律", "法律"), ("行政法规", "行政法规"), ("部门规章", "(?:部门)?规章"))
}


def named_by_level(question: str, documents: Sequence[dict],
                   levels: Mapping[str, str | None]) -> list[str]:  # fmt: skip
    """Ids of the documents of the level of law the question asks about (法律里有没有写 → the
    library's 法律), given each doc id's level; [] when it names no level or the library holds
    no text of it."""
    text = normalize(question)
    asked = {level for level, pattern in _LEVEL_NAMED.items() if pattern.search(text)}
    return [d["doc_id"] for d in documents if levels.get(d["doc_id"]) in asked]


def named_in_english(terms: Sequence[frozenset[str]], documents: Sequence[dict]) -> list[str]:
    """The document an English question names by its title's words in any order (the voluntary
    emission reduction measures → 温室气体自愿减排交易管理办法): its kind and two more of its
    words, and more of them than any other title."""
    scored = []
    for doc in documents:
        core = normalize(title_core(doc["title"]))
        kind = next((k for k in _QUALIFIED_KINDS if core.endswith(k)), None)
        held = sum(any(len(w) >= 2 and w in core for w in term) for term in terms)
        if kind and any(w in kind for term in terms for w in term) and held >= 3:
            scored.append((held, doc["doc_id"]))
    scored.sort(reverse=True)
    if scored and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return [scored[0][1]]
    return []


# the 2020 trial measures, the 2024 interim regulation: a year that names a text, not one asked.
_ENGLISH_DOCUMENT_YEAR = re.compile(
    r"\b((?:19|20)\d\d)\s+(?:[a-z-]+\s+){0,3}?(?:measures|regulations?|rules|plan|opinions?|"
    r"notice|law|guidelines|document)\b",
    re.I,
)


def english_document_years(question: str) -> set[str]:
    """The years an English question names its documents by (the 2020 trial measures)."""
    return set(_ENGLISH_DOCUMENT_YEAR.findall(question))


def english_names(question: str, titles: Sequence[str]) -> tuple[list[str], set[str]]:
    """The words (办法, 试行, 暂行条例…) and numbers (2020, 19) by which an English question named
    its documents, of the given titles: "the 2020 trial measures (MEE Order No. 19)" names the
    text by them, and asks about none."""
    words = [w for t in titles for w in (*_KINDS, "试行", "暂行", "行动") if w in normalize(t)]
    orders = re.findall(r"\border\s+(?:no\.?\s*)?(\d+)", question, re.I)
    if orders:
        words.append("部令")  # MEE Order No. 19 is its 生态环境部令第19号
    return words, english_document_years(question) | set(orders)


def named_in_english_by_year(question: str, terms: Sequence[frozenset[str]],
                             documents: Sequence[dict], years: Mapping[str, set[str]]) -> list[str]:  # fmt: skip
    """The one document of the kind an English question names with a year (the 2023 CCER
    measures → the 办法 of 2023), as 2023年的办法 names it in Chinese."""
    asked_years = set(re.findall(r"\b(?:19|20)\d{2}\b", question))
    kinds = {k for term in terms for k in _KINDS if k in term}
    held = [d["doc_id"] for d in documents
            if any(normalize(title_core(d["title"])).endswith(k) for k in kinds)
            and asked_years & years.get(d["doc_id"], set())]  # fmt: skip
    return held if len(held) == 1 else []


def _one_named_by_kind(text: str, documents: Sequence[dict]) -> tuple[str, str] | None:
    """(doc id, kind) of the one document of a kind the question uses as a name (按条例, 条例里)."""
    for kind in _KINDS:
        holders = [d for d in documents if title_core(d["title"]).endswith(kind)]
        if kind in text and len(holders) == 1:
            core = normalize(title_core(holders[0]["title"]))
            if _kind_as_name(text, kind, core):
                return holders[0]["doc_id"], kind
    return None


def _names_by_kind(text: str, kind: str, title: str) -> bool:
    """甲烷方案 and 意见中… name a document by its kind; 节能审查意见 names none: the kind must
    be used as a name (at the start, or followed by 中/的/规定…) or come with a word of the title."""
    core = normalize(title_core(title))
    return _kind_as_name(text, kind, core) or longest_common_run(text.replace(kind, ""), core) >= 2


def _kind_as_name(text: str, kind: str, core: str = "") -> bool:
    """The kind names a text: where the question starts with it or goes by it (按条例, 依照办法;
    按法律规定 names no 法), or as what says something (意见中, 这个方案里, 甲烷方案的) — not as
    the end of another thing's name (运营方案的…, 分配方案里): the words before it must then
    be the title's (`core`) or a determiner."""
    by = "|按照?|依照|根据|依据" if kind != "法" else ""
    if re.search(rf"(?:^|[《“\s]{by}){kind}", text):
        return True
    for said in re.finditer(rf"{kind}(?:中|的|里|规定|提出|要求|明确|对)", text):
        before = text[: said.start()]
        if (not before or re.search(r"(?:[^\u4e00-\u9fff]|这个|那个|这份|那份|该|此|本)$", before)
                or (core and before[-2:] in core)):  # fmt: skip
            return True
    return False


SAME_SUBJECT_CHARS = 7  # 碳排放权交易管理办法 and 碳排放权交易管理暂行条例 share 碳排放权交易管理


def same_subject(title: str, other: str) -> bool:
    """碳排放权交易管理办法（试行） and 碳排放权交易管理暂行条例 rule the same matter; the
    甲烷排放控制行动方案 and the 碳达峰碳中和意见 do not, and neither governs the other."""
    return longest_common_run(normalize(title_core(title)),
                               normalize(title_core(other))) >= SAME_SUBJECT_CHARS  # fmt: skip


NOW_ASKED = re.compile(r"现在|现行|目前|如今|新规|\bnow\b|\bcurrently\b|\btoday\b", re.I)
# 第二十五条说…: an article the question cites for what it said.
_ARTICLE_SAID = re.compile(
    rf"第{NUMERAL}条(?:里|中|原来|本来)?(?:说|写|规定|要求|提到|明确)(?:的是)?"
)
_ASKING = re.compile(r"什么|啥|哪|几|多少|吗|是否|怎么|如何|[？?]")


def cites_as_premise(question: str) -> bool:
    """The question cites an article for what it said (试行办法第二十五条说排放报告要定期公开，…)
    and asks on from there, not what the article says (第二十五条说了啥, 第七条说哪些人…)."""
    cited = _ARTICLE_SAID.search(question)
    if cited is None:
        return False
    said = re.split(r"[，,。；;？?]", question[cited.end() :], maxsplit=1)[0]
    # 第十条要求广泛征求意见的，是…哪几项: what the article names is what is asked about.
    return bool(said) and not said.endswith("的") and not _ASKING.search(said)


# 甲烷方案说支持…，那…按现行规定得满足哪些条件？ The reader says what a text (or a speaker) said,
# to ask what rules now or what came of it: the sentence that said it is not the answer.
_SAID = re.compile(r"说|要求|提出|规定|明确|提到|强调|表示|写(?:的是|成|着|了)?")
_LATER_ASKED = re.compile(
    rf"{NOW_ASKED.pattern}|新规定|后来|正式出台|(?:出台|出来)(?:以|之)?后", re.I
)


def earlier_statements(question: str) -> list[str]:
    """What the question says a text or speaker said before it asks what rules now or came
    after (21年陆新明说要推动…数据收集，后来正式出台的方案…怎么安排 → 要推动…数据收集)."""
    if not _LATER_ASKED.search(question):
        return []
    said = []
    for clause in re.split(r"[，,。；;？?！!]", normalize(question)):
        verb = _SAID.search(clause)
        if (verb and len(clause) - verb.end() >= 6
                and not _ASKING.search(clause) and not _LATER_ASKED.search(clause)):  # fmt: skip
            said.append(clause[verb.end() :])
    return said


def longest_common_run(a: str, b: str) -> int:
    """Length of the longest substring of `b` that occurs in `a` (titles are short)."""
    best = 0
    for start in range(len(b)):
        length = best + 1
        while start + length <= len(b) and b[start : start + length] in a:
            best = length
            length += 1
    return best
