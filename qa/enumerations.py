"""Lists an answer must not cut short: the items a quoted lead-in announces (…包括下列内容：),
and, asked for a list, the other 款 of a short article the lead quote is from.

Works on the sentences qa.sentences picked, before qa.quotes.compose quotes them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace

from qa.answer_types import enumeration_of
from qa.search import Index, Passage
from qa.sentences import LIST_ITEM, Sentence
from qa.text import sentence_spans

MAX_LIST_ITEMS = 8
MAX_ITEM_CHARS = 60


# A question that asks for a list (哪些情况, 哪几样, 哪几项要求), and the most an article may
# hold to be quoted whole for it: a short article's other 款 often carry the list (第三十二条:
# 提交工作报告…；工作报告应当对…的情况、…的情况作出说明).
_LIST_ASKED = re.compile(r"哪些|哪几")
WHOLE_ARTICLE_CHARS = 300


def with_announced_lists(index: Index, passages: list[Passage], question: str,
                         among: int = 5) -> list[Passage]:  # fmt: skip
    """Asked for things of a kind (得满足哪些硬条件), the paragraph of a found article that
    announces them (并且符合以下条件：) joins the passages, ranked as the paragraph found: the
    search may reach the article by its other paragraphs only. Of the first `among` found."""
    pattern = enumeration_of(question)
    if pattern is None or not _LIST_ASKED.search(question):
        return passages
    held = {p.passage_id for p in passages}
    joined = list(passages)
    for found in passages[:among]:
        if found.locator is None or found.locator.article is None:
            continue
        for clause in index.provision(found.doc_id, found.locator.article):
            announced = any(m.group().startswith(("以下", "下列"))
                            for m in pattern.finditer(clause.text))  # fmt: skip
            if announced and clause.passage_id not in held:
                held.add(clause.passage_id)
                joined.insert(joined.index(found) + 1, replace(clause, score=found.score))
    return joined


def with_whole_article(index: Index, passages: list[Passage], picked: list[Sentence],
                       question: str):  # fmt: skip
    """Asked for a list, the lead quote's article whole when it is short: each 款 not quoted
    yet, whole, after the article's quoted ones. Returns the passages, the sentences to quote
    and the ids of the passages added: they complete the reading, they are no evidence that
    the question is answered (第三十八条's 目录由…确定 beside the 禁燃区 rule asked of)."""
    if not picked or not _LIST_ASKED.search(question):
        return passages, picked, frozenset()
    lead = passages[picked[0].rank]
    if lead.locator is None or lead.locator.article is None or lead.locator.clauses < 2:
        return passages, picked, frozenset()
    article = index.provision(lead.doc_id, lead.locator.article)
    if sum(len(p.text) for p in article) > WHOLE_ARTICLE_CHARS:
        return passages, picked, frozenset()
    quoted = {passages[s.rank].passage_id for s in picked}
    added = []
    for clause in article:
        if clause.passage_id in quoted or not clause.text.strip():
            continue
        rank = _rank_of(passages, clause)
        start = len(clause.text) - len(clause.text.lstrip())
        added.append(Sentence(rank, start, len(clause.text.rstrip()), clause.text.strip()))
    # right after the article's own quotes, so that its 款 are read together
    ids = {p.passage_id for p in article}
    at = max(i for i, s in enumerate(picked) if passages[s.rank].passage_id in ids) + 1
    context = frozenset(passages[s.rank].passage_id for s in added)
    return passages, [*picked[:at], *added, *picked[at:]], context


def with_list_items(index: Index, passages: list[Passage], picked: list[Sentence],
                    named: Collection[str] = ()):  # fmt: skip
    """A quote that ends a paragraph with ： announces a list (主要有五个方面的安排：): quote the
    first sentence of each item paragraph that follows, each citing its own paragraph. What
    else was picked of the lead-in's text gives way; of another text `named`, it stays."""
    for position, sentence in enumerate(picked):
        passage = passages[sentence.rank]
        if not re.search(r"[：:]$", sentence.text):
            continue
        rest = passage.text[sentence.end :]
        if rest.strip():  # short items stay in the lead-in's passage, one per line
            items = _items_in_passage(sentence, passage.text)
            if len(items) >= 2:
                return passages, _with_named_texts(passages, picked, position, items, named)
            continue
        items = []
        for item in index.following(passage, MAX_LIST_ITEMS):
            spans = sentence_spans(item.text)
            if not LIST_ITEM.match(item.text) or not spans:
                break
            clipped = _item_span(item.text, *spans[0])
            if clipped is None:
                break
            start, end = clipped
            items.append(Sentence(_rank_of(passages, item), start, end, item.text[start:end]))
        if len(items) >= 2:
            # The list is the answer: what was picked after the lead-in would only dilute it.
            return passages, _with_named_texts(passages, picked, position, items, named)
    return passages, picked


def _rank_of(passages: list[Passage], passage: Passage) -> int:
    """The passage's rank among `passages`, appended when it isn't there yet."""
    rank = next((i for i, p in enumerate(passages) if p.passage_id == passage.passage_id), None)
    if rank is None:
        passages.append(passage)
        rank = len(passages) - 1
    return rank


def _with_named_texts(passages: list[Passage], picked: list[Sentence], position: int,
                      items: list[Sentence], named: Collection[str]) -> list[Sentence]:  # fmt: skip
    """The list, and what was picked from another text the question names: a governing rule's
    list (its definitions article, say) doesn't push out the named text's answer."""
    doc_id = passages[picked[position].rank].doc_id
    others = [s for s in picked[position + 1 :]
              if passages[s.rank].doc_id != doc_id and passages[s.rank].doc_id in named]  # fmt: skip
    return [*_with_picked_items(picked, position, items), *others]


def _with_picked_items(picked: list[Sentence], position: int,
                       items: list[Sentence]) -> list[Sentence]:  # fmt: skip
    """The lead-in and its items. What else was picked in their paragraphs stays: the clauses
    of a lead-in that runs on (…的罚款；没有违法所得的…；拒不改正的…：), and an item picked for
    its words, whole, even where the list was cut short."""
    lead_in = picked[position]
    ranks = {item.rank for item in items} | {lead_in.rank}
    kept = [s for s in picked[position + 1 :] if s.rank in ranks]
    # A picked item is quoted whole: its clipped opening gives way.
    chosen = [*picked[: position + 1], *kept]
    order = {item.rank: n for n, item in enumerate(items)}
    items = [i for i in items if not any(s.rank == i.rank and s.start < i.end and i.start < s.end
                                         for s in chosen)]  # fmt: skip
    # In the list's order: （三） picked for its words stands between （二） and （四）; what runs
    # on in the lead-in's own paragraph comes first.
    tail = sorted([*items, *kept], key=lambda s: (order.get(s.rank, -1), s.start))
    return [*picked[: position + 1], *tail]


def _items_in_passage(lead_in: Sentence, text: str) -> list[Sentence]:
    items = []
    offset = lead_in.end
    for line in text[lead_in.end :].splitlines(keepends=True):
        start = offset + len(line) - len(line.lstrip())
        offset += len(line)
        if not line.strip():
            continue
        spans = sentence_spans(text[start:offset])
        if not LIST_ITEM.match(line) or not spans or len(items) == MAX_LIST_ITEMS:
            break
        clipped = _item_span(text[start:offset], *spans[0])
        if clipped is None:
            break
        first_start, first_end = clipped
        items.append(Sentence(lead_in.rank, start + first_start, start + first_end,
                               text[start + first_start : start + first_end]))  # fmt: skip
    return items


def _item_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """An item's opening sentence, or, when that runs long ((一)省级有关部门对项目的联合评估论证
    情况，包括…等；), its first clause: it names the item, the card has the rest. None when
    not even that fits."""
    if end - start <= MAX_ITEM_CHARS:
        return start, end
    comma = re.search(r"[，,]", text[start : start + MAX_ITEM_CHARS])
    if comma is None or comma.end() < 8:
        return None
    return start, start + comma.end()
