"""Answers that quote and cite: extractive by default, an OpenAI-compatible LLM when configured.

`answer()` returns an `Answer`. `stream_answer()` yields a `ResolvedQuery` first (so a chat
can show what was searched), then text deltas (`str`), then the final `Answer`, whose text is
authoritative: if an LLM fails half-way, the answer falls back to quotes and says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa import crosslingual
from qa.followup import ResolvedQuery, has_cjk, own_part, resolve_query
from qa.search import Index, Passage, make_filter, open_index
from qa.sentences import (
    ASKING_WORDS,
    Sentence,
    question_form,
    select_sentences,
    sentence_similarity,
    with_list_items,
)
from qa.text import has_substance, normalize, tokenize

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
    form = question_form(question) or (question_form(query) if resolved.follow_up else None)
    picked = select_sentences(index, vector, passages, terms, form)
    if not picked:
        yield from emit_events(_declined(question, query, passages, english))
        return
    passages, picked = with_list_items(index, list(passages), picked)
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
                                     similarity=sentence_similarity(index))  # fmt: skip


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


# --- evidence, and the answer from the chosen sentences ------------------------------------


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
    terms = [t for t in terms if t not in ASKING_WORDS] or terms
    coverage = max(_coverage(terms, _context(p)) for p in passages)
    return coverage >= MIN_COVERAGE and best_dense >= MIN_DENSE


def _compose(question: str, query: str, passages: Sequence[Passage],
             picked: list[Sentence]) -> Answer:  # fmt: skip
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
