"""Answers that quote and cite: extractive by default, an OpenAI-compatible LLM when configured.

`answer()` returns an `Answer`. `stream_answer()` yields a `ResolvedQuery` first (so a chat
can show what was searched), then text deltas (`str`), then the final `Answer`, whose text is
authoritative: if an LLM fails half-way, the answer falls back to quotes and says so.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa import crosslingual
from qa.followup import ResolvedQuery, has_cjk, own_part, resolve_query
from qa.search import Index, Passage, make_filter, open_index
from qa.text import (
    embedding_input,
    has_substance,
    normalize,
    sentence_spans,
    tokenize,
)

NOT_FOUND = "资料中没有找到相关内容。"
NOT_FOUND_EN = "No relevant content was found in the documents."

# No-answer evidence, calibrated with multilingual-e5-small over corpus/ + the policy corpus
# on tests/data/answer_questions.yaml (see scripts in the closing note of issue 3):
#   answerable (Chinese):  own-term coverage of the best passage median 0.93, 5th pct 0.60
#   unanswerable:          median 0.38, 90th pct 0.55 (near-misses like 碳价 reach 0.6)
#   top cosine, English answerable: min 0.83; English unanswerable: max 0.80
MIN_COVERAGE = 0.6  # weighted share of the question's own terms found in one passage
# English questions (qa/crosslingual.py): dictionary coverage + 4 × (top cosine − 0.78).
# Answerable: median 0.65, min 0.30; unanswerable: median 0.16, max 0.53 (碳价, a near-miss).
MIN_EVIDENCE_CROSSLINGUAL = 0.4
CROSSLINGUAL_DENSE_WEIGHT = 4.0
CROSSLINGUAL_DENSE_PIVOT = 0.78
MIN_DENSE_CROSSLINGUAL = 0.815  # questions without CJK can't match lexically: cosine alone
MIN_DENSE = 0.78  # below this cosine, lexical coverage alone is not trusted

MAX_SENTENCES = 3
MAX_CHARS = 200
MAX_EMBEDDED = 8  # sentences embedded per question (~15 ms each); 16 scored the same, slower
SCORE_MARGIN = 0.2  # further sentences must score within this of the best one
LENGTH_PENALTY = 0.1  # per 100 characters beyond 80
# sentence score = passage + lexical + dense (+ question-form bonus); tuned on the quality set
WEIGHTS = (0.3, 0.4, 0.3)
FORM_BONUS = 0.15

_NUMBER = re.compile(
    r"\d|[零一二三四五六七八九十百千万亿两]+(?:个|名|年|月|日|倍|万|亿|吨|元|项|条|天|人|次)|[%％]"
)
_DATE = re.compile(r"\d{4}\s?年\d{1,2}月|\d{1,2}月\d{1,2}日|\d{1,2}月(?:底|前)|之日|起施行")
_WHO = re.compile(r"部门|机关|机构|委员会|国务院|生态环境部|发展改革委|主管|负责|表示|陆新明")
_WHY = re.compile(r"为了|旨在|因为|由于|目的|是.{0,20}的(?:重要|必然)")
_LIST = re.compile(
    r"、|（[一二三四五六七八九十]+）|[一二三四五]是|[两三四五六七八九十几]个方面|如下|下列"
)
# (form, question pattern, sentence pattern that answers it); the first match wins
_FORMS = (
    ("date", re.compile(r"何时|什么时候|哪一?年|哪天|几月|几号|日期|截止|起施行|生效|开始施行|"
                        r"\bwhen\b|what (?:year|date)|take effect|deadline", re.I), _DATE),
    ("number", re.compile(r"多少|几[个年月天次名人倍项条]|多大|多高|多长|多久|比例|比重|百分|金额|"
                          r"how (?:many|much|long)|what (?:percentage|share|proportion)", re.I), _NUMBER),
    ("who", re.compile(r"谁|哪个(?:部门|机构|单位)|哪些(?:部门|机构|单位)|\bwho\b|which (?:department|agency)", re.I), _WHO),
    ("why", re.compile(r"为什么|为何|原因|目的|\bwhy\b", re.I), _WHY),
    ("list", re.compile(r"哪些|包括|有什么|什么|\bwhat\b|\bwhich\b", re.I), _LIST),
    ("how", re.compile(r"如何|怎么|怎样|\bhow\b", re.I), None),
)  # fmt: skip

# Words of the asking itself; they never occur in the answer
_ASKING = frozenset(
    "多长 时间 时候 多久 多大 多高 哪个 哪种 能否 是否 可否 可以 什么样 怎么样 具体 一下 请问".split()
)


@dataclass(frozen=True)
class Citation:
    """Marker `[n]` of an answer: the passage, and where each quoted sentence sits in its text."""

    n: int
    passage: Passage
    spans: tuple[tuple[int, int], ...]  # offsets into passage.text, in reading order

    @property
    def quotes(self) -> tuple[str, ...]:
        return tuple(self.passage.text[start:end] for start, end in self.spans)


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # with [n] markers
    citations: tuple[Citation, ...]  # citations[i].n == i + 1
    found: bool
    query: str  # what was searched, after follow-up resolution
    related: tuple[Passage, ...] = ()  # closest passages, offered as reading when not found
    notice: str | None = None  # e.g. why the LLM answer was replaced by quotes
    mode: str = "extractive"  # or "llm"
    unsupported: tuple[str, ...] = ()  # LLM sentences that their cited passage doesn't back

    def citation(self, n: int) -> Citation:
        return self.citations[n - 1]

    def to_dict(self) -> dict:
        def passage(p: Passage) -> dict:
            return {"doc_id": p.doc_id, "title": p.title, "date": p.date, "source": p.source,
                    "paragraph": p.paragraph, "paragraphs": p.paragraphs, "citation": p.citation,
                    "text": p.text}  # fmt: skip

        return {
            "question": self.question, "query": self.query, "found": self.found,
            "text": self.text, "mode": self.mode, "notice": self.notice,
            "unsupported": list(self.unsupported),
            "citations": [{"n": c.n, **passage(c.passage), "spans": [list(s) for s in c.spans],
                           "quotes": list(c.quotes)} for c in self.citations],
            "related": [passage(p) for p in self.related],
        }  # fmt: skip


StreamEvent = ResolvedQuery | str | Answer


def answer(question: str, k: int = 5, *, index_dir: str | Path | None = None,
           history: Sequence | None = None, docs: Iterable[str] | None = None,
           date_from: object = None, date_to: object = None, index: Index | None = None,
           use_llm: bool | None = None) -> Answer:  # fmt: skip
    """Answer `question` from the index, quoting and citing the source paragraphs.

    `history` holds earlier turns, as `[(user, assistant), ...]` or as chat messages
    `[{"role": "user", "content": ...}, ...]`; it resolves follow-ups like 那2030年的目标呢？.
    `use_llm` None means: use the LLM when QA_LLM_BASE_URL is set.

    >>> from qa import answer
    >>> a = answer("中国控制甲烷排放有哪些安排？")
    >>> print(a.text); [print(c.n, c.passage.citation) for c in a.citations]
    """
    result = None
    for event in stream_answer(question, k, index_dir=index_dir, history=history, docs=docs,
                               date_from=date_from, date_to=date_to, index=index,
                               use_llm=use_llm):  # fmt: skip
        result = event
    assert isinstance(result, Answer)
    return result


def stream_answer(question: str, k: int = 5, *, index_dir: str | Path | None = None,
                  history: Sequence | None = None, docs: Iterable[str] | None = None,
                  date_from: object = None, date_to: object = None, index: Index | None = None,
                  use_llm: bool | None = None) -> Iterator[StreamEvent]:  # fmt: skip
    """Like `answer()`, as events: `ResolvedQuery`, then `str` deltas, then the `Answer`."""
    if not isinstance(question, str):
        raise ValueError(f"question must be a string, not {type(question).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    where = make_filter(docs, date_from, date_to)  # bad dates fail before any work
    resolved = resolve_query(question, history)
    yield resolved
    query = resolved.query
    english = not has_cjk(question)
    if not has_substance(query):
        yield from emit_events(_declined(question, query, (), english))
        return
    index = index or open_index(index_dir)
    vector = index.embedder.embed_queries([query])[0]
    if english:
        translated = crosslingual.english_terms(query)
        # An English follow-up carries the Chinese topic of the chat: keep its words too.
        terms = crosslingual.lexical_terms(translated) + [t for t in tokenize(query) if has_cjk(t)]
    else:
        terms = tokenize(query)
    passages = index.search_vector(vector, k, terms=terms[:64], where=where)
    evidence = translated if english else tokenize(own_part(question, resolved))
    if not _relevant(passages, evidence, english):
        yield from emit_events(_declined(question, query, passages, english))
        return
    form = _form(question) or (_form(query) if resolved.follow_up else None)
    picked = _select(index, vector, passages, terms, form)
    if not picked:
        yield from emit_events(_declined(question, query, passages, english))
        return
    passages, picked = _with_list_items(index, list(passages), picked)
    extractive = _compose(question, query, passages, picked)
    from qa import llm

    config = llm.LLMConfig.from_env() if use_llm is not False else None
    if config is None:
        if use_llm:
            extractive = _with_notice(
                extractive, "未配置大模型（QA_LLM_BASE_URL），以下为原文摘录。"
            )
        yield from emit_events(extractive)
        return
    yield from llm.stream_llm_answer(config, question, query, passages, extractive,
                                     similarity=_similarity(index))  # fmt: skip


def emit_events(result: Answer) -> Iterator[StreamEvent]:
    # Extractive answers stream one quote at a time, so a chat shows the same progression.
    yield from re.findall(r".+?\[\d+\]|.+", result.text, flags=re.S)
    yield result


def _with_notice(result: Answer, notice: str) -> Answer:
    from dataclasses import replace

    return replace(result, notice=notice)


def _declined(question: str, query: str, passages: Sequence[Passage], english: bool) -> Answer:
    return Answer(question=question, text=NOT_FOUND_EN if english else NOT_FOUND,
                  citations=(), found=False, query=query, related=tuple(passages[:3]))  # fmt: skip


# --- evidence and sentence choice ----------------------------------------------------------


def _coverage(terms: list[str], text: str) -> float:
    """Weighted share of the terms found in the text; longer terms say more."""
    weights = {t: min(len(t), 4) for t in terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in text) / total if total else 0.0


def _context(passage: Passage) -> str:
    return normalize(f"{passage.title}\n{passage.heading or ''}\n{passage.text}")


def _relevant(passages: Sequence[Passage], terms: list, english: bool) -> bool:
    if not passages:
        return False
    best_dense = max(p.dense_score for p in passages)
    if english:
        coverage = max(crosslingual.coverage(terms, _context(p)) for p in passages)
        if os.environ.get("QA_DEBUG"):
            print(f"   english coverage {coverage:.2f} dense {best_dense:.3f}")
        # Neither signal separates alone; together they do, bar near-misses like 碳价.
        evidence = coverage + CROSSLINGUAL_DENSE_WEIGHT * (best_dense - CROSSLINGUAL_DENSE_PIVOT)
        return evidence >= MIN_EVIDENCE_CROSSLINGUAL
    if not terms:
        return best_dense >= MIN_DENSE_CROSSLINGUAL
    terms = [t for t in terms if t not in _ASKING] or terms
    coverage = max(_coverage(terms, _context(p)) for p in passages)
    return coverage >= MIN_COVERAGE and best_dense >= MIN_DENSE


def _form(question: str) -> str | None:
    for name, pattern, _ in _FORMS:
        if pattern.search(question):
            return name
    return None


@dataclass
class _Sentence:
    rank: int  # passage rank
    start: int
    end: int
    text: str
    score: float = 0.0


_vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_vectors_lock = threading.Lock()
_CACHE_SIZE = 4096


def _embed(index: Index, texts: list[str]) -> np.ndarray:
    """Sentence vectors, cached: the same paragraphs come back for related questions."""
    model = index.embedder.model_id
    with _vectors_lock:
        missing = [t for t in dict.fromkeys(texts) if (model, t) not in _vectors]
    if missing:
        fresh = index.embedder.embed_passages(missing)
        with _vectors_lock:
            for text, vector in zip(missing, fresh):
                _vectors[(model, text)] = vector
            while len(_vectors) > _CACHE_SIZE:
                _vectors.popitem(last=False)
    with _vectors_lock:
        for text in texts:
            if (model, text) in _vectors:
                _vectors.move_to_end((model, text))
        return np.vstack([_vectors[(model, t)] for t in texts])


def _similarity(index: Index):
    def similarity(a: str, b: str) -> float:
        va = index.embedder.embed_queries([a])[0]
        return float(_embed(index, [b])[0] @ va)

    return similarity


def _select(index: Index, vector: np.ndarray, passages: Sequence[Passage], terms: list[str],
            form: str | None) -> list[_Sentence]:  # fmt: skip
    scores = np.array([p.score for p in passages])
    spread = float(scores.max() - scores.min()) or 1.0
    answers = next((p for name, _, p in _FORMS if name == form), None)
    candidates = [
        _Sentence(rank, start, end, passage.text[start:end])
        for rank, passage in enumerate(passages)
        for start, end in sentence_spans(passage.text)
        if end - start >= 6
    ]
    if not candidates:
        return []
    # Terms every candidate shares (usually the topic) can't tell sentences apart: weight
    # each term by its rarity among the candidates, and by its length.
    # A sentence speaks within its document: 本办法自…起施行 answers a question that names the
    # 办法, so the title and heading count as part of every sentence (and, shared by all the
    # sentences of a document, weigh little against the terms that tell them apart).
    contexts = [
        embedding_input(passages[c.rank].title, passages[c.rank].heading, c.text)
        for c in candidates
    ]
    texts = [normalize(context) for context in contexts]
    terms = [t for t in dict.fromkeys(terms) if t not in _ASKING]
    # A term absent as a word but present character by character (收费 in 收取任何费用)
    # gets half credit: Chinese abbreviates compounds this way.
    matches = [[1.0 if t in text else 0.5 * all(ch in text for ch in t) for t in terms]
               for text in texts]  # fmt: skip
    df = np.sum(np.array(matches, dtype=float).reshape(len(texts), len(terms)) > 0, axis=0)
    weights = np.array([min(len(t), 4) for t in terms]) * np.log((len(texts) + 1) / (df + 0.5))
    lexical = np.array([float(np.dot(m, weights)) if terms else 0.0 for m in matches])
    lexical = lexical / lexical.max() if lexical.max() > 0 else lexical
    for sentence, overlap in zip(candidates, lexical):
        prior = (passages[sentence.rank].score - scores.min()) / spread
        bonus = FORM_BONUS if answers is not None and answers.search(sentence.text) else 0.0
        if len(sentence.text) < 20 and not re.search(r"[。！？；!?;：:]$", sentence.text):
            bonus -= 0.1  # headings and fragments rarely answer
        # Long sentences match more terms by sheer size, and crowd out the rest of the answer.
        bonus -= LENGTH_PENALTY * max(0, len(sentence.text) - 80) / 100
        sentence.score = WEIGHTS[0] * prior + WEIGHTS[1] * overlap + bonus
    # Embedding is the costly part: only the most promising sentences get a dense score.
    candidates.sort(key=lambda s: -s.score)
    head = candidates[:MAX_EMBEDDED]
    cosines = _embed(index, [s.text for s in head]) @ vector
    low, high = float(cosines.min()), float(cosines.max())
    for sentence, cosine in zip(head, cosines):
        sentence.score += WEIGHTS[2] * ((cosine - low) / (high - low) if high > low else 1.0)
        if os.environ.get("QA_DEBUG"):
            print(f"   {sentence.score:.3f} cos={cosine:.3f} P{sentence.rank} {sentence.text[:60]}")
    head.sort(key=lambda s: -s.score)
    best = head[0].score
    chosen: list[_Sentence] = []
    for sentence in head:
        if sentence.score >= best - SCORE_MARGIN and _fits(sentence, chosen):
            chosen.append(sentence)
            # A clause that ends in ；or ：is half a rule (操纵…的罚款；没有违法所得的…):
            # quote the clause that completes it before anything else.
            following = _next_clause(candidates, sentence, passages[sentence.rank].text)
            if following is not None and following not in chosen and _fits(following, chosen):
                chosen.append(following)
    # Neighbours of a chosen sentence in its paragraph (the clause after a ；, the list
    # after a ：) join with a looser margin: they read as one quote.
    for sentence in head:
        if sentence not in chosen and sentence.score >= best - 2 * SCORE_MARGIN and any(
            c.rank == sentence.rank and (c.end <= sentence.start or sentence.end <= c.start)
            and _adjacent(passages[c.rank].text, c, sentence) for c in chosen
        ) and _fits(sentence, chosen):  # fmt: skip
            chosen.append(sentence)
    return chosen


def _next_clause(candidates: list[_Sentence], sentence: _Sentence, text: str) -> _Sentence | None:
    if not re.search(r"[；;：:]$", sentence.text):
        return None
    return next(
        (c for c in candidates if c.rank == sentence.rank and c.start >= sentence.end
         and not text[sentence.end : c.start].strip()),
        None,
    )  # fmt: skip


def _fits(sentence: _Sentence, chosen: list[_Sentence]) -> bool:
    length = sum(len(c.text) for c in chosen)
    return (
        len(chosen) < MAX_SENTENCES
        and (not chosen or length + len(sentence.text) <= MAX_CHARS)
        and not any(_near_duplicate(sentence.text, c.text) for c in chosen)
    )


def _adjacent(text: str, a: _Sentence, b: _Sentence) -> bool:
    first, second = (a, b) if a.start < b.start else (b, a)
    return not text[first.end : second.start].strip()


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\W+", "", normalize(text))
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _near_duplicate(a: str, b: str) -> bool:
    x, y = _bigrams(a), _bigrams(b)
    return bool(x and y) and len(x & y) / min(len(x), len(y)) >= 0.8


_LIST_ITEM = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+是|（[一二三四五六七八九十\d]+）|[一二三四五六七八九十]+、|\d{1,2}[.．、]|第[一二三四五六七八九十]+[，,、])"
)
MAX_LIST_ITEMS = 8
MAX_ITEM_CHARS = 60


def _with_list_items(index: Index, passages: list[Passage], picked: list[_Sentence]):
    """A quote that ends a paragraph with ： announces a list (主要有五个方面的安排：): quote the
    first sentence of each item paragraph that follows, each citing its own paragraph."""
    for position, sentence in enumerate(picked):
        passage = passages[sentence.rank]
        if not re.search(r"[：:]$", sentence.text):
            continue
        rest = passage.text[sentence.end :]
        if rest.strip():  # short items stay in the lead-in's passage, one per line
            items = _items_in_passage(sentence, passage.text)
            if len(items) >= 2:
                return passages, [*picked[:position], sentence, *items]
            continue
        items = []
        for item in index.following(passage, MAX_LIST_ITEMS):
            spans = sentence_spans(item.text)
            if not _LIST_ITEM.match(item.text) or not spans:
                break
            start, end = spans[0]
            if end - start > MAX_ITEM_CHARS:
                break
            rank = next((i for i, p in enumerate(passages) if p.passage_id == item.passage_id),
                        None)  # fmt: skip
            if rank is None:
                passages.append(item)
                rank = len(passages) - 1
            items.append(_Sentence(rank, start, end, item.text[start:end]))
        if len(items) >= 2:
            # The list is the answer: what was picked after the lead-in would only dilute it.
            return passages, [*picked[:position], sentence, *items]
    return passages, picked


def _items_in_passage(lead_in: _Sentence, text: str) -> list[_Sentence]:
    items = []
    offset = lead_in.end
    for line in text[lead_in.end :].splitlines(keepends=True):
        start = offset + len(line) - len(line.lstrip())
        offset += len(line)
        if not line.strip():
            continue
        spans = sentence_spans(text[start:offset])
        if not _LIST_ITEM.match(line) or not spans or len(items) == MAX_LIST_ITEMS:
            break
        first_start, first_end = spans[0]
        if first_end - first_start > MAX_ITEM_CHARS:
            break
        items.append(_Sentence(lead_in.rank, start + first_start, start + first_end,
                               text[start + first_start : start + first_end]))  # fmt: skip
    return items


def _compose(question: str, query: str, passages: Sequence[Passage],
             picked: list[_Sentence]) -> Answer:  # fmt: skip
    """Quotes in reading order per passage (best passage first), one marker per passage run."""
    best_rank = {}
    for order, sentence in enumerate(picked):
        best_rank.setdefault(sentence.rank, order)
    picked = sorted(picked, key=lambda s: (best_rank[s.rank], s.start))
    numbers: dict[int, int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}
    pieces: list[str] = []
    for sentence in picked:
        n = numbers.setdefault(sentence.rank, len(numbers) + 1)
        runs = spans.setdefault(sentence.rank, [])
        text = passages[sentence.rank].text
        if runs and not text[runs[-1][1] : sentence.start].strip():
            # The next sentence of the same paragraph: quote both as one, one marker.
            runs[-1] = (runs[-1][0], sentence.end)
            pieces[-1] = f"{text[runs[-1][0] : sentence.end]}[{n}]"
        else:
            runs.append((sentence.start, sentence.end))
            pieces.append(f"{sentence.text}[{n}]")
    citations = tuple(
        Citation(n, passages[rank], tuple(spans[rank]))
        for rank, n in sorted(numbers.items(), key=lambda item: item[1])
    )
    return Answer(question=question, text="".join(pieces), citations=citations, found=True,
                  query=query)  # fmt: skip
