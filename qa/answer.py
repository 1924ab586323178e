"""Answers that quote and cite: extractive by default, an OpenAI-compatible LLM when configured.

`answer()` returns an `Answer`. `stream_answer()` yields a `ResolvedQuery` first (so a chat
can show what was searched), then text deltas (`str`), then the final `Answer`, whose text is
authoritative: if an LLM fails half-way, the answer falls back to quotes and says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from qa import answer_types, crosslingual, doc_questions, governing, naming, provisions
from qa.authority import NEWS, Authority
from qa.citing import with_cited_articles
from qa.enumerations import with_announced_lists, with_list_items, with_whole_article
from qa.evidence import (
    answer_features,
    answerable,
    asks_beyond,
    contentless,
    evidence_terms,
    names_numbers,
)
from qa.followup import ResolvedQuery, own_part, resolve_query
from qa.parts import asking_sentences, with_each_part
from qa.quotes import (
    INCOMPLETE,
    INCOMPLETE_EN,
    NOT_FOUND,
    NOT_FOUND_EN,
    Answer,
    Citation,
    StreamEvent,
    compose,
    declined,
    emit_events,
    quote_items,
    quote_spans,
    quote_whole,
    with_antecedents,
    with_asked_sequel,
    with_persons_liable,
)
from qa.reader import reader_for
from qa.search import Index, Passage, check_k, make_filter, open_index
from qa.sentences import select_sentences, sentence_similarity
from qa.stated import (
    article_states,
    english_unknown,
    leaves_to_another,
    lists_specifics,
    names_all,
    names_asked_kind,
    rare_things,
    says_predicate,
    states_asked,
)
from qa.text import has_cjk, has_substance, is_english, normalize, tokenize
from qa.years import (
    in_asked_years,
    of_asked_year,
    with_each_asked_year,
    with_year_leads,
    without_years,
)

# Re-exported: `from qa.answer import Answer, Citation, NOT_FOUND` keeps working.
__all__ = ["INCOMPLETE", "INCOMPLETE_EN", "NOT_FOUND", "NOT_FOUND_EN", "Answer", "Citation",
           "ResolvedQuery", "StreamEvent", "answer", "emit_events", "stream_answer"]  # fmt: skip

# The question's most specific thing (污水 of 城市生活污水收集率) is named by the quotes when
# at most this share of passages hold it; on dev, 5%, 10% and 100% decided alike.
SPECIFIC_SHARE = 0.05


def answer(question: str, k: int = 5, *, index_dir: str | Path | None = None,
           history: Sequence | None = None, docs: Iterable[str] | None = None,
           date_from: object = None, date_to: object = None, index: Index | None = None,
           use_llm: bool | None = None, in_force: bool = False,
           include_undated: bool = False) -> Answer:  # fmt: skip
    """Answer `question` from the index, quoting and citing the source paragraphs.

    `history` holds earlier turns, as `[(user, assistant), ...]` or as chat messages
    `[{"role": "user", "content": ...}, ...]`; it resolves follow-ups like 那2030年的目标呢？.
    `use_llm` None means: use the LLM when QA_LLM_BASE_URL is set. `in_force` answers from
    documents in force (现行有效) only; `include_undated` keeps undated documents in a date range.

    >>> from qa import answer
    >>> a = answer("中国控制甲烷排放有哪些安排？")
    >>> print(a.text); [print(c.n, c.passage.citation) for c in a.citations]
    """
    result = None
    for event in stream_answer(question, k, index_dir=index_dir, history=history, docs=docs,
                               date_from=date_from, date_to=date_to, index=index,
                               use_llm=use_llm, in_force=in_force,
                               include_undated=include_undated):  # fmt: skip
        result = event
    assert isinstance(result, Answer)
    return result


def stream_answer(question: str, k: int = 5, *, index_dir: str | Path | None = None,
                  history: Sequence | None = None, docs: Iterable[str] | None = None,
                  date_from: object = None, date_to: object = None, index: Index | None = None,
                  use_llm: bool | None = None, in_force: bool = False,
                  include_undated: bool = False) -> Iterator[StreamEvent]:  # fmt: skip
    """Like `answer()`, as events: `ResolvedQuery`, then `str` deltas, then the `Answer`."""
    if not isinstance(question, str):
        raise ValueError(f"question must be a string, not {type(question).__name__}")
    k = check_k(k)
    where = make_filter(
        docs, date_from, date_to, in_force, include_undated
    )  # bad input fails before any work
    resolved = resolve_query(question, history)
    yield resolved
    query = resolved.query
    english = is_english(question)
    if not has_substance(query) or (not resolved.follow_up and contentless(question)):
        yield from emit_events(declined(question, query, (), english, incomplete=True))
        return
    index = index or open_index(index_dir)
    vector = index.embedder.embed_queries([query])[0]
    if english:
        english_query = crosslingual.english_query(query, index.library_words)
        translated = english_query.translated
        # An English follow-up carries the Chinese topic of the chat: keep its words too.
        extra = [t for t in tokenize(query) if has_cjk(t)]
        terms = english_query.terms + extra
        # Sentences are scored per English word: "plan" (方案, 安排, 打算) counts once.
        scored: list = [*translated, *extra, *english_query.numbers]
    else:
        terms = scored = provisions.expand_terms(tokenize(query))
    visible = index.titles(where)
    # An English question names a document by its translated words (interim regulations →
    # 暂行条例), each read as the longest word the library uses for it.
    asked = english_query.gloss if english else query
    # English is searched, and its sentences chosen, by the question and its dictionary gloss
    # (监测 体系 建立 …) together: the model tells Chinese texts apart better from Chinese words.
    # On dev, choosing sentences so: English fact 0.714 → 0.776. Searching so too (with the
    # crosslingual fusion; at 0.5/0.5 it cost refusals): by batch fact 0.798 → 0.803,
    # refused 0.718 → 0.727, answerable declined 0.046 → 0.052.
    choice = english_query.vector(vector, index.embedder) if english else vector
    years = naming.document_years(index) if naming.DATED_KIND.search(query) else None
    # A follow-up that names its own document (那2020年那个办法呢？) asks about that one.
    own_named = (naming.named_documents(own_part(question, resolved), visible, years)
                 if resolved.follow_up and not english else [])  # fmt: skip
    named = own_named or naming.named_documents(asked, visible, years)
    # 按照办法（试行），…: the named document answers; a rule that governs it is quoted beside.
    titled = naming.named_as_documents(own_part(question, resolved) if own_named else asked,
                                       visible, named)  # fmt: skip
    if english and not named:
        named = titled = naming.named_in_english(translated, visible) or (
            naming.named_in_english_by_year(
                query, translated, visible, naming.document_years(index)
            )
        )
    if english and named:
        named_titles = [d["title"] for d in visible if d["doc_id"] in named]
        unnamed = english_query.without_names(*naming.english_names(question, named_titles))
        terms = unnamed.terms + extra
        scored = [*unnamed.translated, *extra, *unnamed.numbers]
    # 2020年的试行办法说…，现在按新规定呢？ names the old text to ask what governs now.
    if naming.NOW_ASKED.search(question):
        titled = []
    # …只是号召吗？法律里有没有写？ asks the law, whatever text the premise quoted.
    authorities_by_doc = index.authorities()
    levels = {doc_id: a.level for doc_id, a in authorities_by_doc.items()}
    by_level = (
        [] if english else naming.named_by_level(own_part(question, resolved), visible, levels)
    )
    # Its 第X条 is then the premise's text's (试行办法第五条写的是…), not one to look up; so is
    # one cited for what it said (第二十五条说排放报告要定期公开，那…).
    premise_article = (bool(by_level) and by_level != named) or naming.cites_as_premise(question)
    if by_level:
        named = titled = by_level
    # The document a Chinese question names as one leads the answer; 碳排放权交易, a run of two
    # titles, names neither. An English gloss names them by their words (the 2020 measures).
    leads = named if english else titled
    scope = replace(where, docs=tuple(titled)) if titled else where
    passages = index.search_vector(
        choice,
        max(k, 8) if english else k,
        terms=terms[:64],
        where=scope,
        mode="crosslingual" if english else "hybrid",
    )
    # 试行办法把门槛写成2.6万吨…。现在确定条件由谁来定？ asks of 确定条件, not of the premise.
    focus = (
        []
        if english
        else provisions.expand_terms(tokenize(asking_sentences(own_part(question, resolved))))
    )
    passages, governing_ids = governing.governing_rules(
        index, choice, terms[:64], passages, where, focus, own_part(question, resolved)
    )
    if titled:  # the governing rule is quoted beside the named document's, not instead of it
        passages = [p for p in passages if p.passage_id not in governing_ids] + [
            replace(p, score=passages[-1].score) for p in passages if p.passage_id in governing_ids
        ]
    # The article must be the question's own (那第二十三条呢？), not one a follow-up carried over.
    exact = [] if premise_article else provisions.lookup_article(index, question, named)
    if exact is None:  # 第六十条 of a document that ends at 第五十一条: not in the texts
        yield from emit_events(declined(question, query, passages, english))
        return
    if exact and where.admits(exact[0]):
        # 第二十一条…按多大比例核减？, …应当向哪个法院起诉？: what it doesn't state isn't there.
        shape = answer_types.required_shape(question, answer_types.question_form(question))
        if not article_states(question, [p.text for p in exact], shape, english):
            yield from emit_events(declined(question, query, passages, english))
            return
        articles = len({p.locator.article for p in exact if p.locator})
        budget = provisions.MAX_PROVISION_CHARS * max(1, articles)
        yield from _finish(quote_whole(question, query, exact, budget), question, query, use_llm)
        return
    issued = doc_questions.issuer_quotes(index, question, named)
    issued = issued or doc_questions.signing_date_quotes(index, question, named)
    issued = issued or doc_questions.amendment_quotes(index, question, named)
    issued = issued or doc_questions.definition_quotes(index, question, named)
    issued = issued or doc_questions.title_quotes(index, question)
    if issued and where.admits(issued[0][0]):
        yield from _finish(quote_spans(question, query, "", issued), question, query, use_llm)
        return
    places = doc_questions.phrase_quotes(index, question, named or [d["doc_id"] for d in visible])
    if places[1]:
        yield from _finish(quote_spans(question, query, *places), question, query, use_llm)
        return
    status = doc_questions.status_quotes(index, question, named)
    if status is not None and status[1]:
        yield from _finish(quote_spans(question, query, *status), question, query, use_llm)
        return
    titles = {d["doc_id"]: d["title"] for d in visible}
    known = [*titles.values(), *(r for a in authorities_by_doc.values() for r in a.repeals)]
    if doc_questions.unheld_title(question, known):
        # Its content is in that document only: texts that cite it don't state it.
        yield from emit_events(declined(question, query, passages, english))
        return
    named_titles = [titles[d] for d in named if d in titles
                    and (authorities_by_doc.get(d) or Authority()).level not in (None, NEWS)]  # fmt: skip
    numbered = provisions.lookup_part(index, question, named)  # 意见第三部分, 意见第十条
    # An English question names a part by its words, not across two of them.
    section_asked = english_query.words if english else asked
    part = numbered or provisions.lookup_section(index, section_asked, named, passages)
    if part and part[1] and where.admits(part[1][0]):
        path, section = part
        # A part asked by its number, or by its heading in quotes (“配额核定与分配”这一条), is
        # the answer whatever else the question says.
        phrase = _quoted_phrase(question)
        by_heading = (
            phrase and normalize(phrase) in normalize(path) and _PART_NAMED.search(question)
        )
        if numbered or by_heading or not asks_beyond(index, asked, path, named_titles, section):
            # A part asked by its number (第三部分) may be long: its parts are listed then.
            listed = _LIST_ASKED.search(question) or (
                numbered and sum(len(p.text) for p in section) > provisions.MAX_SECTION_CHARS
            )
            items = provisions.section_items(path, section) if listed else []
            if sum(len(p.text) for p in section) <= provisions.MAX_SECTION_CHARS:
                items = provisions.whole_items(items)
            result = (quote_items(question, query, items) if items else
                      quote_whole(question, query, section, provisions.MAX_SECTION_CHARS))  # fmt: skip
            yield from _finish(result, question, query, use_llm)
            return
        # 总则对公民有什么要求: the answer is what the search found inside the section.
        inside = {p.passage_id for p in section}
        passages = [p for p in passages if p.passage_id in inside] or passages
    evidence = translated if english else tokenize(own_part(question, resolved))
    unknown: list[str] = []
    cap = max(3, round(SPECIFIC_SHARE * index.size))
    if not english:
        evidence, unknown = evidence_terms(index, question, evidence, named_titles)
    else:
        # An English term is held where any of its translations is; one none of whose
        # translations the library holds (visa → 签证) is unknown, as a Chinese word is.
        held = index.passage_counts({w for term in evidence for w in term}, cap + 1)
        unknown = english_unknown(evidence, held)
    # An English question names its years as a Chinese one does (their 2027 lists).
    naming_years = naming.english_document_years(question) if english else set()
    years = [n for n in english_query.numbers if re.fullmatch(r"(?:19|20)\d\d", n)
             and n not in naming_years] if english else []  # fmt: skip
    effective = {d: a.effective for d, a in authorities_by_doc.items()}
    if not passages or not names_numbers(passages, [*evidence, *years], question, effective):
        yield from emit_events(declined(question, query, passages, english))
        return
    searched = passages
    passages = with_announced_lists(index, passages, question)
    if not titled:
        passages = governing.with_governing_order(passages)
    form = answer_types.question_form(question) or (
        answer_types.question_form(query) if resolved.follow_up else None
    )
    # A target of one year or period is quoted from what is said of it (到2025年, “十五五”期间).
    of_asked = in_asked_years(passages, question)
    picked = select_sentences(index, choice, passages, scored, form, question=question,
                              keep=of_asked) if of_asked else []  # fmt: skip
    picked = picked or select_sentences(index, choice, passages, scored, form, question=question)
    phrase = _quoted_phrase(question)
    if picked and phrase and not any(phrase in s.text for s in picked):
        # The reader put the term in quotation marks (“项目碳排放情况”): a text that holds it
        # is quoted where it does, not where the rest of the question's words are.
        holds_phrase = re.compile(re.escape(phrase))
        picked = select_sentences(index, choice, passages, scored, form, require=holds_phrase,
                                  question=question) or picked  # fmt: skip
    if not picked:
        yield from emit_events(declined(question, query, passages, english))
        return
    yearless = without_years(scored, question)
    picked = with_each_asked_year(passages, picked, question, lambda keep: select_sentences(
        index, choice, passages, yearless, form, question=question, keep=keep))  # fmt: skip
    if not english and not resolved.follow_up:
        passages, picked = with_each_part(
            list(passages), picked, question,
            lambda upto: index.search_vector(index.embedder.embed_queries([upto])[0], k,
                                             terms=provisions.expand_terms(tokenize(upto))[:64],
                                             where=scope),
            lambda found, upto, part: select_sentences(
                index, choice, found, provisions.expand_terms(tokenize(upto)),
                answer_types.question_form(part), question=upto))  # fmt: skip
    picked = governing.with_governing_quote(index, choice, passages, picked, scored, form,
                                            governing_ids, first=not titled,
                                            question=question)  # fmt: skip
    picked = with_antecedents(passages, of_asked_year(passages, picked, question))
    picked = with_year_leads(passages, picked)
    picked = with_asked_sequel(passages, picked, question)
    picked = with_persons_liable(passages, picked, question)
    passages, picked = with_cited_articles(index, list(passages), picked)
    passages, picked = with_list_items(index, passages, picked, leads)
    passages, picked, context = with_whole_article(index, passages, picked, question)
    extractive = compose(question, query, passages, picked, leads)
    shape = answer_types.required_shape(question, form)
    shape_missing = False
    if shape is not None and not shape.search("".join(extractive.citations[0].quotes)):
        # The quotes don't hold what was asked (a price, a date…): quote the sentence that
        # does, if a document already quoted has one (the 办法's 5% when the governing 条例
        # states no share); else the texts don't say it, which the decision weighs.
        quoted = {c.passage.doc_id for c in extractive.citations}
        shaped = [p for p in passages if p.doc_id in quoted]
        picked = select_sentences(
            index, choice, shaped, scored, form, require=shape, question=question
        )
        shape_missing = not picked
        if picked:
            passages, picked = with_list_items(index, shaped, picked, leads)
            extractive, context = compose(question, query, passages, picked, leads), frozenset()
    # what the answer is decided on: the quotes, not the 款 that only complete their article
    cited = [c for c in extractive.citations if c.passage.passage_id not in context]
    quotes = [q for c in cited for q in c.quotes]
    before = [c.passage.text[:start] for c in cited for start, _ in c.spans]
    # A figure quoted of another thing or year doesn't state the asked one.
    # A thing the question names that few passages hold (风险基金) must be named by the quotes.
    # So must one whose specifics a list question asks (承诺书具体要写哪些内容).
    rare = rare_things(index, question, evidence, shape, form, english, cap,
                       held if english else {})  # fmt: skip
    titles = [c.passage.title for c in cited for _ in c.spans]
    units = [_provision_of(c.passage) for c in cited for _ in c.spans]
    stated = (names_all(quotes, rare) if shape is None else
              states_asked(quotes, shape, evidence, question, before, rare, titles, units))  # fmt: skip
    stated = stated and not leaves_to_another(question, quotes, form)
    stated = stated and (english or names_asked_kind(question, quotes))
    stated = stated and lists_specifics(question, quotes, form)
    stated = stated and (english or says_predicate(question, quotes))

    def read() -> float:
        reader = reader_for(index.embedder.model_id)
        return reader.score(question, " ".join(quotes)) if reader else 0.0

    features = answer_features(searched, evidence, english, unknown, shape_missing, stated)
    if not answerable(features, read):
        yield from emit_events(declined(question, query, passages, english))
        return
    yield from _finish(extractive, question, query, use_llm, passages, index)


def _provision_of(passage: Passage) -> str:
    """The article a passage is of, or the passage itself outside articles."""
    article = passage.locator.article if passage.locator else None
    return f"{passage.doc_id} {article or passage.passage_id}"


_QUOTED_PHRASE = re.compile(r"[“\"]([^“”\"《》]{3,20})[”\"]")


def _quoted_phrase(question: str) -> str | None:
    """A term the question quotes (“项目碳排放情况”), but not a period (“十四五”), which the texts
    name as often by its years."""
    match = _QUOTED_PHRASE.search(question)
    if match is None or re.fullmatch(r"十[一二三四五六七八九]五(?:时期|期间|末)?", match.group(1)):
        return None
    return match.group(1)


def _finish(extractive: Answer, question: str, query: str, use_llm, passages=None,
            index: Index | None = None) -> Iterator[StreamEvent]:  # fmt: skip
    from qa import llm

    config = llm.LLMConfig.from_env() if use_llm is not False else None
    if config is None:
        if use_llm:
            extractive = _with_notice(
                extractive, "未配置大模型（QA_LLM_BASE_URL），以下为原文摘录。"
            )
        yield from emit_events(extractive)
        return
    passages = passages or [c.passage for c in extractive.citations]
    index = index or open_index(None)
    yield from llm.stream_llm_answer(config, question, query, passages, extractive,
                                     similarity=sentence_similarity(index))  # fmt: skip


def _with_notice(result: Answer, notice: str) -> Answer:
    return replace(result, notice=notice)


_PART_NAMED = re.compile(r"[”\"』」](?:这|那)?一?(?:条|部分|节|章|段|项)")
_LIST_ASKED = re.compile(r"哪些|哪几|几个方面|包括|有什么|what are|which", re.I)


# --- evidence, and the answer from the chosen sentences ------------------------------------
