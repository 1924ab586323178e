"""What an answer is made of: the `Answer` and `Citation` types, and answer text composed from
quotes (sentences chosen by qa.sentences, whole provisions and sections, the parts of a section),
with markers, ellipses, 另见 and notes on authority.

Below qa.answer and qa.llm, which both build answers from these.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from qa import governing, provisions
from qa.answer_types import ASKING_WORDS, SAME_TIME
from qa.followup import ResolvedQuery
from qa.naming import same_subject
from qa.search import Passage
from qa.sentences import Sentence
from qa.text import sentence_spans, tokenize

NOT_FOUND = "资料中没有找到相关内容。"


NOT_FOUND_EN = "No relevant content was found in the documents."


INCOMPLETE = "请把问题问完整，例如：碳排放权交易管理暂行条例什么时候开始施行？"


INCOMPLETE_EN = "Please ask a complete question, e.g. When do the carbon emissions trading regulations take effect?"


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


def emit_events(result: Answer) -> Iterator[StreamEvent]:
    # Extractive answers stream one quote at a time, so a chat shows the same progression.
    yield from re.findall(r".+?\[\d+\]|.+", result.text, flags=re.S)
    yield result


def declined(question: str, query: str, passages: Sequence[Passage], english: bool,
              incomplete: bool = False) -> Answer:  # fmt: skip
    if incomplete:
        text = INCOMPLETE_EN if english else INCOMPLETE
    else:
        text = NOT_FOUND_EN if english else NOT_FOUND
    return Answer(question=question, text=text, citations=(), found=False, query=query,
                  related=tuple(passages[:3]))  # fmt: skip


def quote_spans(question: str, query: str, lead: str, quotes) -> Answer:
    """Our one-line lead (《X》已废止：), then the quoted sentences that show it."""
    pieces = [
        f"{passage.text[start:end]}[{n}]" for n, (passage, start, end) in enumerate(quotes, 1)
    ]
    citations = tuple(Citation(n, passage, ((start, end),))
                      for n, (passage, start, end) in enumerate(quotes, 1))  # fmt: skip
    return Answer(question=question, text=lead + "".join(pieces), citations=citations,
                  found=True, query=query)  # fmt: skip


def quote_items(question: str, query: str, items) -> Answer:
    """The parts of a section, each by its opening sentence (after its heading, when it has one),
    each citing its passage."""
    numbers: dict[int, int] = {}  # passage id → marker: parts in one paragraph share one
    spans: dict[int, list[tuple[int, int]]] = {}
    pieces = []
    for label, passage, start, end in items:
        n = numbers.setdefault(passage.passage_id, len(numbers) + 1)
        spans.setdefault(passage.passage_id, []).append((start, end))
        pieces.append(f"{label}：{passage.text[start:end]}[{n}]" if label else
                      f"{passage.text[start:end]}[{n}]")  # fmt: skip
    by_id = {passage.passage_id: passage for _, passage, _, _ in items}
    citations = tuple(Citation(n, by_id[pid], tuple(spans[pid])) for pid, n in numbers.items())
    return Answer(question=question, text="".join(pieces), citations=citations, found=True,
                  query=query)  # fmt: skip


def quote_whole(question: str, query: str, provision: list[Passage],
                 budget: int = provisions.MAX_PROVISION_CHARS) -> Answer:  # fmt: skip
    """An article asked by number, or a section by name: quoted whole up to the budget, then "…"."""
    kept = provisions.whole(provision, budget)
    # The articles of two texts (试行办法第十八条 names two): each under its text's title.
    titled = len({p.doc_id for p in kept}) > 1
    firsts = {p.doc_id: p.passage_id for p in reversed(kept)}
    pieces = [("\n" * (n > 1) + f"《{p.title}》" if titled and firsts[p.doc_id] == p.passage_id else "")
              + f"{p.text}[{n}]" for n, p in enumerate(kept, 1)]  # fmt: skip
    if len(kept) < len(provision):
        pieces.append("…")
    citations = tuple(Citation(n, p, ((0, len(p.text)),)) for n, p in enumerate(kept, 1))
    note = governing.authority_note(kept)
    return Answer(question=question, text="".join(pieces) + (f"\n{note}" if note else ""),
                  citations=citations, found=True, query=query)  # fmt: skip


def compose(question: str, query: str, passages: Sequence[Passage],
             picked: list[Sentence], named: Sequence[str] = ()) -> Answer:  # fmt: skip
    """Quotes in reading order per passage (best passage first), one marker per passage run.

    Quotes of one document stay together; when rules of several documents answer, the
    governing one leads (or the one the question names) and the others follow as 另见."""
    best_rank = {}
    for order, sentence in enumerate(picked):
        best_rank.setdefault(sentence.rank, order)
    doc_order = governing.lead_documents(
        [passages[s.rank] for s in sorted(picked, key=lambda s: best_rank[s.rank])], named
    )
    picked = sorted(picked, key=lambda s: (doc_order[passages[s.rank].doc_id], best_rank[s.rank],
                                           s.start))  # fmt: skip
    numbers: dict[int, int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}
    quotes: list[tuple[int, int]] = []  # (passage rank, index of the run in spans[rank])
    for sentence in picked:
        numbers.setdefault(sentence.rank, len(numbers) + 1)
        runs = spans.setdefault(sentence.rank, [])
        text = passages[sentence.rank].text
        if runs and not text[runs[-1][1] : sentence.start].strip():
            # The next sentence of the same paragraph: quote both as one, one marker.
            runs[-1] = (runs[-1][0], sentence.end)
        else:
            runs.append((sentence.start, sentence.end))
            quotes.append((sentence.rank, len(runs) - 1))
    citations = tuple(
        Citation(n, passages[rank], tuple(spans[rank]))
        for rank, n in sorted(numbers.items(), key=lambda item: item[1])
    )
    lead = citations[0].passage if citations else None
    pieces, seen_docs = [], set()
    for rank, run in quotes:
        passage, (start, end) = passages[rank], spans[rank][run]
        piece = passage.text[start:end]
        # A quote that stops inside an enumeration (at ；or ：) says so, after its marker (each
        # quote stays followed by its [n]); the card has the rest.
        omitted = bool(re.search(r"[；;：:，,]$", piece) and passage.text[end:].strip())
        if (pieces and passage.doc_id not in seen_docs and lead is not None
                and passage.doc_id != lead.doc_id and governing.is_rule(lead)
                and governing.is_rule(passage)
                and same_subject(lead.title, passage.title)):  # fmt: skip
            piece = f"\n另见：{piece}"
        seen_docs.add(passage.doc_id)
        pieces.append(f"{piece}[{numbers[rank]}]" + ("…" if omitted else ""))
    note = governing.authority_note([c.passage for c in citations])
    text = "".join(pieces) + (f"\n{note}" if note else "")
    return Answer(question=question, text=text, citations=citations, found=True,
                  query=query)  # fmt: skip


# A clause that goes on from the one before: 拒不改正的 (after 责令改正，处…罚款), 逾期未改正的,
# 不能整改、整改不到位或逾期不整改的 (after 责令…限期整改).
_CONTINUES = re.compile(
    r"^(?:拒不(?:改正|整改)|逾期(?:未|不|仍未|仍不)(?:改正|整改)|逾期不履行|情节严重"
    r"|不能整改[^，。]{0,12}?)的"
)


def with_antecedents(passages: Sequence[Passage], picked: list[Sentence]) -> list[Sentence]:
    """A quote that goes on from the sentence before it (拒不改正的，…核减…) brings that sentence
    (…未按照规定清缴其碳排放配额的，由…责令改正，处…罚款), which says what it goes on from; a
    repeal 同时 with a commencement brings the commencement, which says when."""
    taken = {(s.rank, s.start) for s in picked}
    result: list[Sentence] = []
    for sentence in picked:
        if _CONTINUES.match(sentence.text) or SAME_TIME.search(sentence.text):
            spans = sentence_spans(passages[sentence.rank].text)
            before = [(a, b) for a, b in spans if b <= sentence.start]
            if before and (sentence.rank, before[-1][0]) not in taken:
                start, end = before[-1]
                text = passages[sentence.rank].text[start:end]
                result.append(Sentence(sentence.rank, start, end, text))
                taken.add((sentence.rank, start))
        result.append(sentence)
    return result


# A question about what follows when the first penalty is not enough: 罚款之后逾期还不改正，
# 会怎么处理; 情节严重的呢. Its answer is the clause that goes on (逾期未改正的，由…测算…).
_SEQUEL_ASKED = re.compile(r"逾期.{0,3}[不未]改|拒不改|[还仍][不未]改|情节严重")


# A case a rule goes on to (项目已开工建设或投入生产、使用的，按…处罚): its condition, up to 的，
_CASE = re.compile(r"^([^，。；：]{2,40}?)的，")


def with_asked_sequel(passages: Sequence[Passage], picked: list[Sentence],
                      question: str) -> list[Sentence]:  # fmt: skip
    """The sentence that goes on from the lead quote when the question asks what follows:
    逾期还不改正，会怎么处理 (逾期未改正的，…), or a case its later clauses name (靠拆分项目通过了
    节能审查，而且已经开工建设了 → 项目已开工建设或投入生产、使用的，按…处罚): the first rule
    alone doesn't answer it."""
    if not picked:
        return picked
    asked = _SEQUEL_ASKED.search(question)
    # 逾期 asked: the 逾期 clause, not the 拒不改正 one; 情节严重 asked: that clause
    wanted = "" if asked is None else "逾期" if "逾期" in asked.group() else (
        "情节严重" if "情节" in asked.group() else "")  # fmt: skip
    rank = picked[0].rank
    text = passages[rank].text
    later = [w for w in tokenize("，".join(re.split(r"[，,；;]", question)[1:]))
             if len(w) >= 2 and w not in ASKING_WORDS and w not in picked[0].text]  # fmt: skip
    taken = {s.start for s in picked if s.rank == rank}
    after = max(s.end for s in picked if s.rank == rank)
    for start, end in sentence_spans(text):
        if start < picked[0].end or start in taken:
            continue
        sequel = _CONTINUES.match(text[start:end])
        case = _CASE.match(text[start:end])
        if (asked and sequel and sequel.group().startswith(wanted)) or (
            case and any(w in case.group(1) for w in later)
        ):
            # beside its own paragraph's quotes: a list quoted later keeps only what precedes it
            at = max(i for i, s in enumerate(picked) if s.rank == rank) + 1
            return [*picked[:at], Sentence(rank, start, end, text[start:end]), *picked[at:]]
        if start >= after:
            break
    return picked


# The people a rule goes on to punish besides the body (对其直接负责的主管人员…处…罚款).
_PERSONS_LIABLE = re.compile(r"直接负责的主管人员|其他直接责任人员|直接责任人员|主管人员")
# …said plainly: 公司里直接负责的人呢, 负责人个人会被罚吗
_PERSONS_ASKED = re.compile(_PERSONS_LIABLE.pattern + r"|直接负责的?人|负责人|责任人")
# A paragraph that goes on from its article's earlier ones (因本条第一款、第二款规定的…, 前款)
_REFERS_BACK = re.compile(r"本条第[一二三四五六七八九十]+款|前款")


def with_persons_liable(passages: Sequence[Passage], picked: list[Sentence],
                        question: str) -> list[Sentence]:  # fmt: skip
    """Asked what the body and the people in charge each face (机构本身和它直接负责的主管人员
    分别会被怎么罚), a quote of the body's penalty brings the paragraph of the same article
    that goes on to those people (技术服务机构因本条第一款、第二款规定的违法行为受到处罚的，对其
    直接负责的主管人员…处2万元以上20万元以下的罚款)."""
    asked = _PERSONS_ASKED.search(question)
    if not picked or asked is None:
        return picked
    persons = asked.group() if _PERSONS_LIABLE.fullmatch(asked.group()) else "直接负责的主管人员"
    if any(persons in s.text for s in picked):
        return picked
    articles = {
        (passages[s.rank].doc_id, passages[s.rank].locator.article)
        for s in picked
        if passages[s.rank].locator and passages[s.rank].locator.article
    }
    for rank, passage in enumerate(passages):
        where = (passage.doc_id, passage.locator.article if passage.locator else None)
        if where in articles and persons in passage.text:
            for start, end in sentence_spans(passage.text):
                sentence = passage.text[start:end]
                if persons in sentence and _REFERS_BACK.search(sentence):
                    return [*picked, Sentence(rank, start, end, sentence)]
    return picked
