"""Answers that follow how policy texts are built: exact article, part and section look-ups,
and whole provisions (an item brings its article's lead-in). Which rule governs is
qa.governing's.

qa/answer.py calls these; they read the index (qa.search.Index).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer_types import SYNONYMS, question_form
from qa.naming import longest_common_run, title_core
from qa.search import Index, Passage
from qa.structure import NUMERAL, OUTLINE, cn_to_int, int_to_cn, normalize_article
from qa.text import normalize

_ARTICLE_ASKED = re.compile(rf"第\s*{NUMERAL}\s*条")
# A text named by its kind just before the article (试行办法第十八条, 条例第五条)
_LOOSE_NAME = re.compile(rf"(试行|暂行)?(办法|条例|意见|方案|通知)(?=第\s*{NUMERAL}\s*条)")
# Articles asked together: 第二十二条、第二十三条和第二十五条 (not 办法第十四条…条例第九条)
_ARTICLE_RUN = re.compile(
    rf"第\s*{NUMERAL}\s*条(?:\s*(?:、|，|,|和|及|与|以及)\s*第\s*{NUMERAL}\s*条)+"
)
# A 款 asked of the article: 第四十三条第一款
_CLAUSE_ASKED = re.compile(rf"第\s*{NUMERAL}\s*条\s*第\s*({NUMERAL})\s*款")
# A numbered part of a policy text: 第三部分 is its 三、…; 第十条 or （十） its （十）…
_PART_ASKED = re.compile(rf"第\s*({NUMERAL})\s*(部分|条|点)|[（(]({NUMERAL})[）)]")
_ARTICLE_ASKED_EN = re.compile(r"\bart(?:icle|\.)?\s*(\d{1,3})\b", re.I)  # Article 22, Art. 22
_SECTION_NUMBER = re.compile(
    rf"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]|\d{{1,2}}[.．、]|第{NUMERAL}[编章节])\s*"
)
_LEADING_VERB = re.compile(
    r"^(?:加强|推进|完善|强化|健全|提升|加快|深化|做好|持续|积极|切实|大力|全面)"
)
MAX_ARTICLES_ASKED = 3  # 第二十二条、第二十三条、第二十五条 quoted together, each whole
MAX_PROVISION_CHARS = 420  # an article quoted whole up to this; beyond, it ends in …
MAX_SECTION_ITEMS = 12  # parts of a section listed by their opening sentence
MAX_ITEM_CHARS = 60  # the opening sentence of a numbered part: （三十）完善投资政策。
MAX_UNNUMBERED_ITEM_CHARS = 16  # of an unnumbered one: 坚持统筹协调。
MAX_SECTION_CHARS = 600  # a section asked by name (主要目标) keeps all its figures up to this


def asked_article(question: str) -> str | None:
    """第22条 / 第二十二条 / Article 22 in the question → 第二十二条."""
    match = _ARTICLE_ASKED.search(question)
    if match:
        return normalize_article(match.group(0).replace(" ", ""))
    english = _ARTICLE_ASKED_EN.search(question)
    return normalize_article(f"第{english.group(1)}条") if english else None


def lookup_article(index: Index, question: str, candidates: Sequence[str]) -> list[Passage] | None:
    """The asked article (第N条) of the named document, or of the one document that has it;
    [] when the question asks no article or can't be pinned to one document; None when the
    article is asked of a named legal text that doesn't have it (or of no document at all)."""
    article = asked_article(question)
    # 《巴黎协定》第六条: an article of a text the library doesn't hold is none of its own.
    quoted = re.search(rf"《([^》]{{2,60}})》\s*{_ARTICLE_ASKED.pattern}", question)
    if quoted and not any(title_core(quoted.group(1)) in title_core(d["title"])
                          for d in index.titles()):  # fmt: skip
        return []
    holders = index.with_article(article) if article else []
    if (_PART_ASKED.search(question) and not set(candidates) & set(holders)
            and _outline_document(index.sections(), candidates)):  # fmt: skip
        # A policy text has parts, not articles (its 第十条 is its （十）); `lookup_part` finds
        # it, and a part it doesn't have is not in the texts.
        return [] if lookup_part(index, question, candidates) else None
    if article is None:
        return []
    if not holders:
        return None
    # 试行办法第十八条 names both 办法（试行）: each one's article, below
    loose_pair = len(candidates) > 1 and _LOOSE_NAME.search(question) is not None
    if candidates and not loose_pair:
        named = [doc for doc in candidates if doc in holders]
        if named:
            # 第二十二条、第二十三条、第二十五条分别…: each article asked, in the question's order
            run = _ARTICLE_RUN.search(question)
            others = _ARTICLE_ASKED.findall(run.group())[:MAX_ARTICLES_ASKED] if run else []
            found = _asked_clause(question, index.provision(named[0], article))
            for other in dict.fromkeys(filter(None, map(normalize_article, others))):
                found += [] if other == article else index.provision(named[0], other)
            return found
        if candidates[0] in index.with_article("第一条"):
            return None  # a legal text, named, without that article
        return []
    if len(holders) == 1:
        return _asked_clause(question, index.provision(holders[0], article))
    # 试行办法第十八条: a loose name that two texts answer to; each one's article is quoted.
    # Only asked what the article says: a figure asked of it (第三十八条…多少天内公开) is
    # searched for and weighed, as of any text.
    loose = _LOOSE_NAME.search(question)
    # 第七条讲的是啥？管的是谁？: the sentence that names the article says what is asked of it.
    own = next((s for s in re.split(r"(?<=[？?])", question) if _ARTICLE_ASKED.search(s)), question)
    if loose is None or question_form(own) not in (None, "list", "how"):
        return []
    qualifier, kind = loose.groups()
    titles = {d["doc_id"]: d["title"] for d in index.titles()}
    held = [d for d in holders if kind in titles.get(d, "") and (qualifier or "") in titles[d]]
    if not 1 <= len(held) <= 2:
        return []
    return [p for doc in held for p in index.provision(doc, article)]


def _asked_clause(question: str, article: list[Passage]) -> list[Passage]:
    """The 款 the question asks of the article (第四十三条第一款), with its items; the whole
    article when it asks none, or one the article doesn't have."""
    match = _CLAUSE_ASKED.search(question)
    number = cn_to_int(match.group(1)) if match else None
    held = [p for p in article if number and p.locator and p.locator.clause == number]
    return held or article


def _outline_document(sections: Sequence[tuple[str, str]], candidates: Sequence[str]) -> str | None:
    """The named document, when its sections (Index.sections) show a policy text with an outline
    (一、 （一） 1.) rather than articles and chapters."""
    if candidates and any(
        doc == candidates[0] and any(p.match(path) for p in OUTLINE) for doc, path in sections
    ):
        return candidates[0]
    return None


def lookup_part(index: Index, question: str,
                candidates: Sequence[str]) -> tuple[str, list[Passage]] | None:  # fmt: skip
    """(path, passages) of the numbered part of the named policy text that the question asks
    for: 第三部分 → 三、…, 第十条 or （十） → （十）…; None when it asks none or there is none."""
    match = _PART_ASKED.search(question) if candidates else None
    number = cn_to_int(match.group(1) or match.group(3)) if match else None
    if not number:
        return None  # most questions: no section query at all
    sections = index.sections()
    doc_id = _outline_document(sections, candidates)
    prefix = f"{int_to_cn(number)}、" if match.group(2) == "部分" else f"（{int_to_cn(number)}）"
    for doc, path in sections if doc_id else ():
        parts = path.split(" › ")
        depth = next((i for i, part in enumerate(parts, 1) if part.startswith(prefix)), 0)
        if doc == doc_id and depth:
            path = " › ".join(parts[:depth])
            return path, index.section(doc_id, path)
    return None


def lookup_section(index: Index, question: str, candidates: Sequence[str],
                   ranked: Sequence[Passage]) -> tuple[str, list[Passage]] | None:  # fmt: skip
    """(path, passages) of the outline section or chapter a question names (主要目标, 组织实施,
    总则 …), in the named document, else in the best-ranked document that has such a part."""
    text = normalize(question)
    order = list(dict.fromkeys([*candidates, *(p.doc_id for p in ranked)]))
    titles = {d["doc_id"]: normalize(title_core(d["title"])) for d in index.titles()}
    best: tuple[int, int, str, str] | None = None
    for doc_id, full_path in index.sections():
        if doc_id not in order:
            continue
        parts = full_path.split(" › ")
        for depth in range(1, len(parts) + 1):  # 四、组织实施 holds only its sub-sections
            words = normalize(_SECTION_NUMBER.sub("", parts[depth - 1]))
            # 加强监督执法 is asked as 监督执法, 加强组织实施 as 组织实施.
            core = _LEADING_VERB.sub("", words)
            if len(core) < 4:
                core = words
            # In a named document a part is asked by what sets it apart from the document's
            # subject: 甲烷行动方案 + 农业领域 names 推进农业领域甲烷排放控制.
            own = _without_subject(core, titles.get(doc_id, "")) if doc_id in candidates else ""
            if (len(core) >= 2 and core in text) or (len(own) >= 4 and own in text):
                # The named or better-ranked document first, then the more specific heading.
                key = (order.index(doc_id), -len(words), doc_id, " › ".join(parts[:depth]))
                if best is None or key < best:
                    best = key
    if best is None:
        return None
    return best[3], index.section(best[2], best[3])


def _without_subject(heading: str, title: str) -> str:
    """The heading without the longest run (of 4 or more characters) it shares with the title;
    "" when it shares none."""
    length = longest_common_run(title, heading)
    if length < 4:
        return ""
    run = next(heading[i : i + length] for i in range(len(heading) - length + 1)
               if heading[i : i + length] in title)  # fmt: skip
    return heading.replace(run, "", 1)


def heading_words(path: str) -> str:
    """The words of a section path's headings, without their numbers."""
    return normalize("".join(_SECTION_NUMBER.sub("", part) for part in path.split(" › ")))


def section_items(path: str, section: Sequence[Passage]) -> list[tuple[str, Passage, int, int]]:
    """The parts of a section, as (label, passage, start, end) of each part's opening sentence:
    its sub-sections (四、组织实施 › （一）加强统筹协调 …), labelled by their headings, or the
    passages that each open with an item heading (（三十）完善投资政策。…)."""
    from qa.text import sentence_spans

    depth = len(path.split(" › "))
    children: dict[str, Passage] = {}
    for passage in section:
        parts = (passage.locator.sections or passage.locator.divisions) if passage.locator else ()
        if len(parts) > depth:
            children.setdefault(parts[depth], passage)
    items = []
    if len(children) >= 2:
        for label, passage in list(children.items())[:MAX_SECTION_ITEMS]:
            spans = sentence_spans(passage.text)
            if spans:
                items.append((label, passage, *spans[0]))
        return items
    for passage in section:
        spans = sentence_spans(passage.text)
        if not spans:
            return []
        start, end = spans[0]
        # （三十）完善投资政策。… or, unnumbered, 坚持统筹协调。…: a part's name opens it.
        if _SECTION_NUMBER.match(passage.text) and end - start <= MAX_ITEM_CHARS:
            items.append(("", passage, start, end))
            continue
        if end - start > MAX_UNNUMBERED_ITEM_CHARS:
            return []
        # Parts run on in one paragraph when the source has no blank lines between them
        # (坚持统筹协调。…坚持夯实基础。…): every short sentence that opens like the first.
        opener = passage.text[start : start + 2]
        items += [("", passage, s, e) for s, e in spans
                  if e - s <= MAX_UNNUMBERED_ITEM_CHARS and passage.text[s : s + 2] == opener]  # fmt: skip
    items = items[:MAX_SECTION_ITEMS]
    return items if len(items) >= 2 else []


def whole_items(items: list[tuple[str, Passage, int, int]]) -> list[tuple[str, Passage, int, int]]:
    """A short section's parts each quoted whole (its measures, not only its name), where each
    part is a passage of its own."""
    if len({passage.passage_id for _, passage, _, _ in items}) < len(items):
        return items
    return [(label, passage, start, len(passage.text)) for label, passage, start, _ in items]


def whole(passages: Sequence[Passage], budget: int = MAX_PROVISION_CHARS) -> list[Passage]:
    """The leading passages of a provision that fit the budget (at least one)."""
    kept, used = [], 0
    for passage in passages:
        if kept and used + len(passage.text) > budget:
            break
        kept.append(passage)
        used += len(passage.text)
    return kept


def expand_terms(terms: Sequence[str]) -> list[str]:
    """The terms, then the words rules use for them."""
    extra = [s for t in terms for s in SYNONYMS.get(t, ()) if s not in terms]
    return [*terms, *dict.fromkeys(extra)]
