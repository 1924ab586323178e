"""Which rule governs: a higher or newer text on the same subject joins the answer and leads it
(the 条例 over the 办法), the other follows as 另见, and a note names both levels and dates.

qa/answer.py and qa/quotes.py call these; they read the index (qa.search.Index). Only
`with_governing_quote` embeds: it chooses the governing rule's sentences as qa.sentences
chooses any.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from qa import authority as authorities
from qa.authority import Authority, governing_key
from qa.naming import same_subject
from qa.search import Index, Passage
from qa.sentences import Sentence, select_sentences
from qa.text import normalize

CLOSE_COSINE = 0.05  # passages this close to the best cosine answer about as well


def governing_rules(index: Index, vector, terms: Sequence[str], passages: Sequence[Passage],
                    where, focus: Sequence[str] = (),
                    question: str = "") -> tuple[list[Passage], set[int]]:  # fmt: skip
    """When the best passage is a rule and a document that governs it (same subject by title,
    in force, higher level or newer) is in the library, its best matching provision joins the
    candidates, first; returns them and the ids of those governing passages: a superseded 办法
    must not answer alone where a 条例 rules. The provision that names the thing the question
    asks about (交易产品有哪些 → 产品) is preferred to one that only shares its topic."""
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
    """How much of the terms the text holds; a single character (算 of 怎么算, 后 of 施行后) is
    in every long provision and tells none apart."""
    text = normalize(text)
    return sum(min(len(t), 4) for t in terms if len(t) >= 2 and t in text)


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
                         first: bool = True, question: str = "") -> list[Sentence]:  # fmt: skip
    """A rule that governs the one quoted (the 条例 over the 办法) is quoted too, and first
    (unless the question named the other), even when the lower rule's words match better."""
    doc_id = next((p.doc_id for p in passages if p.passage_id in governing), None)
    if doc_id is None or any(passages[s.rank].doc_id == doc_id for s in picked):
        return picked
    # Any provision of the governing document found may be the counterpart (第十八条 举报 for
    # the 办法's 第三十六条), not only the one its search put first.
    ranks = [i for i, p in enumerate(passages) if p.doc_id == doc_id]
    own = select_sentences(
        index, vector, [passages[i] for i in ranks], terms, form, question=question
    )
    # …and quoted from that one provision, as the quote of the rule it governs is
    own = [replace(s, rank=ranks[s.rank]) for s in own if s.rank == own[0].rank]
    return [*own, *picked] if first else [*picked, *own]


def with_governing_order(passages: list[Passage]) -> list[Passage]:
    """The governing document's passages first, scores passed down so the sentence choice
    (which weighs the passage score) follows the new order."""
    ordered = governing_first(passages)
    if ordered == list(passages):
        return list(passages)
    scores = sorted((p.score for p in passages), reverse=True)
    return [replace(p, score=s) for p, s in zip(ordered, scores)]
