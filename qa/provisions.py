"""Answers that follow how policy texts are built: exact article and section look-ups, whole
provisions (an item brings its article's lead-in), the governing rule first, and a check that
the quotes hold the kind of fact the question asks for.

qa/answer.py calls these; they read the index (qa.search.Index). Only `with_governing_quote`
embeds: it chooses the governing rule's sentences as qa.sentences chooses any.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from qa import authority as authorities
from qa.answer_types import SYNONYMS, question_form
from qa.authority import Authority, governing_key
from qa.naming import longest_common_run, same_subject, title_core
from qa.search import Index, Passage
from qa.sentences import Sentence, select_sentences
from qa.structure import NUMERAL, OUTLINE, cn_to_int, int_to_cn, normalize_article
from qa.text import normalize

_ARTICLE_ASKED = re.compile(rf"第\s*{NUMERAL}\s*条")
# A text named by its kind just before the article (试行办法第十八条, 条例第五条)
_LOOSE_NAME = re.compile(rf"(试行|暂行)?(办法|条例|意见|方案|通知)(?=第\s*{NUMERAL}\s*条)")
# Articles asked together: 第二十二条、第二十三条和第二十五条 (not 办法第十四条…条例第九条)
_ARTICLE_RUN = re.compile(
    rf"第\s*{NUMERAL}\s*条(?:\s*(?:、|，|,|和|及|与|以及)\s*第\s*{NUMERAL}\s*条)+"
)
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
    if candidates:
        named = [doc for doc in candidates if doc in holders]
        if named:
            # 第二十二条、第二十三条、第二十五条分别…: each article asked, in the question's order
            run = _ARTICLE_RUN.search(question)
            others = _ARTICLE_ASKED.findall(run.group())[:MAX_ARTICLES_ASKED] if run else []
            found = index.provision(named[0], article)
            for other in dict.fromkeys(filter(None, map(normalize_article, others))):
                found += [] if other == article else index.provision(named[0], other)
            return found
        if candidates[0] in index.with_article("第一条"):
            return None  # a legal text, named, without that article
        return []
    if len(holders) == 1:
        return index.provision(holders[0], article)
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


CLOSE_COSINE = 0.05  # passages this close to the best cosine answer about as well


def expand_terms(terms: Sequence[str]) -> list[str]:
    """The terms, then the words rules use for them."""
    extra = [s for t in terms for s in SYNONYMS.get(t, ()) if s not in terms]
    return [*terms, *dict.fromkeys(extra)]


def governing_rules(index: Index, vector, terms: Sequence[str], passages: Sequence[Passage],
                    where, focus: Sequence[str] = (),
                    question: str = "") -> tuple[list[Passage], set[int]]:  # fmt: skip
    """When the best passage is a rule and a document that governs it (same subject by title,
    in force, higher level or newer) is in the library, its best matching provision joins the
    candidates, first; returns them and the ids of those governing passages: a superseded 办法
    must not answer alone where a 条例 rules. The provision that names the thing the question
    asks about (交易产品有哪些 → 产品) is preferred to one that only shares its topic."""
    from dataclasses import replace

    if not passages or not is_rule(passages[0]):
        return list(passages), set()
    top = passages[0]
    authorities_by_doc = index.authorities()
    extra = []
    for doc in index.titles(where):
        doc_id = doc["doc_id"]
        auth = authorities_by_doc.get(doc_id)
        if doc_id == top.doc_id or auth is None or not auth.in_force:
            continue
        if not same_subject(doc["title"], top.title):
            continue
        if governing_key(auth, None) >= governing_key(top.authority, top.date):
            continue
        from qa.store import Filter

        found = index.search_vector(vector, 3, terms=list(terms),
                                    where=Filter(docs=(doc_id,), in_force=where.in_force))  # fmt: skip
        found = [p for p in found if p.dense_score >= top.dense_score - CLOSE_COSINE]
        if found:
            # The question's own words first: a follow-up (那不按时清缴配额呢？) carries the
            # earlier topic in `terms`, but asks about its own.
            asked = _ASKED_THING.findall(question)
            best = max(found, key=lambda p: (all(a in p.text for a in asked),
                                             _coverage(focus, p.text), _coverage(terms, p.text),
                                             p.score))  # fmt: skip
            extra.append(replace(best, score=top.score))
    ids = {p.passage_id for p in extra}
    return [*extra, *(p for p in passages if p.passage_id not in ids)], ids


# The thing a question asks about: 交易产品【有哪些】, 公示期【是多久】.
_ASKED_THING = re.compile(
    r"([\u4e00-\u9fff]{2})(?:是什么|是多少|是多久|是哪|是谁|有哪些|有什么|包括哪些|包括什么)"
)


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
    close = [p for p in passages if p.dense_score >= top - margin and is_rule(p)
             and same_subject(p.title, passages[0].title)]  # fmt: skip
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
    first = by_doc[order[0]] if order else None
    rules = [d for d in order if is_rule(by_doc[d]) and same_subject(by_doc[d].title, first.title)]
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
    """A note naming both levels and dates when the quotes come from rules of one matter and of
    different weight, and a warning when a quoted document is repealed or superseded."""
    notes = []
    docs = list({p.doc_id: p for p in cited if is_rule(p)}.values())
    if len(docs) >= 2:
        leader, *others = docs
        lead_key = governing_key(leader.authority, leader.date)
        # Rules of different matters (节能审查 and 自愿减排交易) don't rank against each other.
        for other in (o for o in others if same_subject(leader.title, o.title)):
            other_key = governing_key(other.authority, other.date)
            if lead_key < other_key:
                notes.append(
                    f"{_describe(leader)}效力优先于{_describe(other)}；两者规定不一致的，"
                    f"以前者为准，后者另见。"
                )
            elif other_key < lead_key:  # the question named the lower rule: it leads
                notes.append(
                    f"{_describe(other)}效力优先于所问的{_describe(leader)}；两者规定不一致的，"
                    f"以前者为准。"
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


def with_governing_quote(index: Index, vector, passages: list[Passage], picked: list[Sentence],
                         terms: list, form: str | None, governing: set[int],
                         first: bool = True) -> list[Sentence]:  # fmt: skip
    """A rule that governs the one quoted (the 条例 over the 办法) is quoted too, and first
    (unless the question named the other), even when the lower rule's words match better."""
    ranks = [i for i, p in enumerate(passages) if p.passage_id in governing]
    if not ranks or any(passages[s.rank].doc_id == passages[ranks[0]].doc_id for s in picked):
        return picked
    rank = ranks[0]
    own = select_sentences(index, vector, [passages[rank]], terms, form)
    for sentence in own:
        sentence.rank = rank
    return [*own, *picked] if first else [*picked, *own]


def with_governing_order(passages: list[Passage]) -> list[Passage]:
    """The governing document's passages first, scores passed down so the sentence choice
    (which weighs the passage score) follows the new order."""
    ordered = governing_first(passages)
    if ordered == list(passages):
        return list(passages)
    scores = sorted((p.score for p in passages), reverse=True)
    return [replace(p, score=s) for p, s in zip(ordered, scores)]
