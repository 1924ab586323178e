"""Answers that follow how policy texts are built: exact article and section look-ups, whole
provisions (an item brings its article's lead-in), the governing rule first, and a check that
the quotes hold the kind of fact the question asks for.

qa/answer.py calls these; they read the index (qa.search.Index) and never embed anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa import authority as authorities
from qa.authority import Authority, governing_key
from qa.search import Index, Passage
from qa.structure import _NUMERAL, normalize_article
from qa.text import normalize

_ARTICLE_ASKED = re.compile(rf"第\s*{_NUMERAL}\s*条")
# 碳排放权交易管理暂行条例 is named as 条例, 暂行条例 or its full title; these are the words of a
# title that name its kind, and the generic words a title starts with.
_KINDS = ("条例", "办法", "意见", "方案", "通知", "规定", "决定", "法")
_TITLE_NOISE = re.compile(
    r"^(?:中共中央\s*国务院|国务院|生态环境部|国家发展改革委)?关于|（[^）]*）|[\s《》]"
)
_SECTION_NUMBER = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]|\d{1,2}[.．、])\s*"
)
MAX_PROVISION_CHARS = 420  # an article quoted whole up to this; beyond, it ends in …
MAX_SECTION_CHARS = 600  # a section asked by name (主要目标) keeps all its figures up to this

# What each question form needs in the quotes before it counts as answered.
_PRICE_ASKED = re.compile(r"价格|价位|碳价|多少钱|成交价|price", re.I)
_AMOUNT_ASKED = re.compile(r"罚款|罚多少|金额|多少钱|fine", re.I)
_PRICE = re.compile(r"\d[\d,.]*\s*(?:元|美元|欧元)(?:\s*/\s*吨|每吨)?")
_MONEY = re.compile(r"(?:\d[\d,.]*|[一二三四五六七八九十百千]+)\s*(?:万|亿)?元|倍以上")
_TITLE_WORDS = re.compile(
    r"司长|副司长|部长|副部长|主任|副主任|局长|处长|厅长|主席|总理|总经理|书记|负责人|发言人|"
    r"生态环境部|国务院|委员会|主管部门|机构|部门|人民政府"
)
_TITLES = re.compile(r"司长|部长|主任|局长|处长|厅长|主席|总理|总经理|书记|负责人|发言人|委员|专员")
_DATE = re.compile(
    r"\d{4}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|之日|工作日|个月|日内|年底|以前|以后|期限|每年"
)
_NUMBER = re.compile(
    r"\d|[零一二三四五六七八九十百千万亿两]+(?:个|名|年|月|日|倍|万|亿|吨|元|项|条|天|人|次|家)|[%％]"
)


def asked_article(question: str) -> str | None:
    """第22条 / 第二十二条 in the question → 第二十二条."""
    match = _ARTICLE_ASKED.search(question)
    return normalize_article(match.group(0).replace(" ", "")) if match else None


def _title_core(title: str) -> str:
    return _TITLE_NOISE.sub("", title or "")


def named_documents(question: str, documents: Sequence[dict]) -> list[str]:
    """Ids of the documents the question names, best first: by a long run of its title, or by
    its kind (条例, 意见 …) when only one document of that kind is in the library."""
    text = normalize(question)
    scored = []
    for doc in documents:
        core = normalize(_title_core(doc["title"]))
        longest = _longest_common_run(text, core)
        if longest >= 6 or (core and longest >= len(core) - 1):
            scored.append((longest, doc["doc_id"]))
    if scored:
        best = max(length for length, _ in scored)
        return [doc_id for length, doc_id in sorted(scored, reverse=True) if length >= best - 2]
    for kind in _KINDS:
        if kind in text:
            holders = [d["doc_id"] for d in documents if _title_core(d["title"]).endswith(kind)]
            if len(holders) == 1:
                return holders
    return []


def _longest_common_run(a: str, b: str) -> int:
    """Length of the longest substring of `b` that occurs in `a` (titles are short)."""
    best = 0
    for start in range(len(b)):
        length = best + 1
        while start + length <= len(b) and b[start : start + length] in a:
            best = length
            length += 1
    return best


def lookup_article(index: Index, question: str, candidates: Sequence[str]) -> list[Passage]:
    """The asked article (第N条) of the named document, or of the one document that has it."""
    article = asked_article(question)
    if article is None:
        return []
    holders = index.with_article(article)
    named = [doc for doc in candidates if doc in holders]
    if named:
        return index.provision(named[0], article)
    return index.provision(holders[0], article) if len(holders) == 1 else []


def lookup_section(index: Index, question: str, candidates: Sequence[str],
                   ranked: Sequence[Passage]) -> list[Passage]:  # fmt: skip
    """The passages of the outline section a question names (主要目标, 保障措施 …), in the named
    document, else in the best-ranked document that has such a section."""
    text = normalize(question)
    order = list(dict.fromkeys([*candidates, *(p.doc_id for p in ranked)]))
    if not order:
        return []
    best: tuple[int, int, str, str] | None = None
    for doc_id, path in index.sections():
        if doc_id not in order:
            continue
        heading = path.split(" › ")[-1]
        words = normalize(_SECTION_NUMBER.sub("", heading))
        if len(words) >= 2 and words in text:
            # Prefer the named or better-ranked document, then the longer (more specific) heading.
            key = (order.index(doc_id), -len(words), doc_id, path)
            if best is None or key < best:
                best = key
    if best is None:
        return []
    return index.section(best[2], best[3])


def whole(passages: Sequence[Passage], budget: int = MAX_PROVISION_CHARS) -> list[Passage]:
    """The leading passages of a provision that fit the budget (at least one)."""
    kept, used = [], 0
    for passage in passages:
        if kept and used + len(passage.text) > budget:
            break
        kept.append(passage)
        used += len(passage.text)
    return kept


# Words a rule uses for what a question calls otherwise (虚报 → 虚假的数据资料, 弄虚作假).
SYNONYMS = {
    "虚报": ("虚假", "弄虚作假"), "瞒报": ("虚假", "遗漏"), "造假": ("伪造", "弄虚作假"),
    "作假": ("弄虚作假",), "处罚": ("罚款",), "罚": ("罚款",), "惩罚": ("罚款",),
    "生效": ("施行",), "实施": ("施行",), "碳价": ("价格",), "配额价格": ("成交价格",),
}  # fmt: skip
SAME_SUBJECT_CHARS = 7  # 碳排放权交易管理办法 and 碳排放权交易管理暂行条例 share 碳排放权交易管理
CLOSE_COSINE = 0.05  # passages this close to the best cosine answer about as well


def expand_terms(terms: Sequence[str]) -> list[str]:
    """The terms, then the words rules use for them."""
    extra = [s for t in terms for s in SYNONYMS.get(t, ()) if s not in terms]
    return [*terms, *dict.fromkeys(extra)]


def governing_rules(index: Index, vector, terms: Sequence[str], passages: Sequence[Passage],
                    where) -> list[Passage]:  # fmt: skip
    """When the best passage is a rule and a document that governs it (same subject by title,
    in force, higher level or newer) is in the library, its best matching provision joins the
    candidates: a superseded 办法 must not answer alone where a 条例 rules."""
    from dataclasses import replace

    if not passages or not is_rule(passages[0]):
        return list(passages)
    top = passages[0]
    top_core = normalize(_title_core(top.title))
    authorities_by_doc = index.authorities()
    extra = []
    for doc in index.titles(where):
        doc_id = doc["doc_id"]
        auth = authorities_by_doc.get(doc_id)
        if doc_id == top.doc_id or auth is None or not auth.in_force:
            continue
        if _longest_common_run(normalize(_title_core(doc["title"])), top_core) < SAME_SUBJECT_CHARS:
            continue
        if governing_key(auth, None) >= governing_key(top.authority, top.date):
            continue
        from qa.store import Filter

        found = index.search_vector(vector, 3, terms=list(terms),
                                    where=Filter(docs=(doc_id,), in_force=where.in_force))  # fmt: skip
        found = [p for p in found if p.dense_score >= top.dense_score - CLOSE_COSINE]
        if found:
            best = max(found, key=lambda p: (_coverage(terms, p.text), p.score))
            extra.append(replace(best, score=top.score))
    if not extra:
        return list(passages)
    ids = {p.passage_id for p in extra}
    return [*extra, *(p for p in passages if p.passage_id not in ids)]


def _coverage(terms: Sequence[str], text: str) -> float:
    text = normalize(text)
    return sum(min(len(t), 4) for t in terms if t in text)


def governing_first(passages: Sequence[Passage], margin: float = CLOSE_COSINE) -> list[Passage]:
    """Passages reordered so that, among those that answer about as well (cosine within
    `margin` of the best), the governing document's come first: in force, higher level, newer.
    The rest keep their order."""
    if len(passages) < 2:
        return list(passages)
    top = passages[0].dense_score
    close = [p for p in passages if p.dense_score >= top - margin and is_rule(p)]
    if len({p.doc_id for p in close}) < 2:
        return list(passages)
    leader = min(close, key=lambda p: (governing_key(p.authority, p.date), -p.score))
    if leader.doc_id == passages[0].doc_id:
        return list(passages)
    first = [p for p in passages if p.doc_id == leader.doc_id]
    return first + [p for p in passages if p.doc_id != leader.doc_id]


def lead_documents(passages: Sequence[Passage], named: Sequence[str] = ()) -> dict[str, int]:
    """{doc_id: position} for the documents of the quoted passages (given best first): a
    document the question names leads, else the governing one among the rules."""
    order = list(dict.fromkeys(p.doc_id for p in passages))
    by_doc = {p.doc_id: p for p in reversed(passages)}
    leader = next((d for d in named if d in by_doc), None)
    rules = [d for d in order if is_rule(by_doc[d])]
    if leader is None and len(rules) >= 2:
        leader = min(rules, key=lambda d: governing_key(by_doc[d].authority, by_doc[d].date))
    if leader is not None:
        order.remove(leader)
        order.insert(0, leader)
    return {doc_id: i for i, doc_id in enumerate(order)}


def is_rule(passage: Passage) -> bool:
    level = passage.authority.level if passage.authority else None
    return level not in (None, authorities.NEWS)


def _describe(passage: Passage) -> str:
    auth = passage.authority or Authority()
    parts = [auth.level or "文件"]
    if auth.effective:
        parts.append(f"{auth.effective}起施行")
    elif passage.date:
        parts.append(passage.date)
    if not auth.in_force:
        parts.append(auth.status)
    return f"《{passage.title}》（{'，'.join(parts)}）"


def authority_note(cited: Sequence[Passage]) -> str | None:
    """A note naming both levels and dates when the quotes come from rules of different weight,
    and a warning when a quoted document is repealed or superseded."""
    notes = []
    docs = list({p.doc_id: p for p in cited if is_rule(p)}.values())
    if len(docs) >= 2:
        leader, *others = docs
        for other in others:
            if governing_key(leader.authority, leader.date) < governing_key(
                other.authority, other.date
            ):
                notes.append(
                    f"{_describe(leader)}效力优先于{_describe(other)}；两者规定不一致的，"
                    f"以前者为准，后者另见。"
                )
    for passage in {p.doc_id: p for p in cited}.values():
        auth = passage.authority
        if auth is not None and not auth.in_force:
            successor = "、".join(auth.superseded_by) if auth.superseded_by else ""
            notes.append(
                f"注意：《{passage.title}》{auth.status}"
                + (f"，已由{successor}取代" if successor else "")
                + "，所引条文不是现行规定。"
            )
    return "".join(notes) or None


def fact_shape_missing(question: str, form: str | None, quotes: Sequence[str]) -> bool:
    """True when the question asks for a price, an amount, a date or a person/title and no
    quote holds one: such an answer would not answer, however close its words."""
    text = "".join(quotes)
    if _PRICE_ASKED.search(question) and re.search(r"多少|几|是什么|how much|what", question, re.I):
        return not _PRICE.search(text)
    if form == "number" and _AMOUNT_ASKED.search(question):
        return not _MONEY.search(text)
    if form == "number":
        return not _NUMBER.search(text)
    if form == "date":
        return not _DATE.search(text)
    if form == "title":
        return not _TITLES.search(text)
    if form == "who":
        return not _TITLE_WORDS.search(text)
    return False
