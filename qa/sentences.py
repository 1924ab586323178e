"""Sentence choice for extractive answers: which sentences of the retrieved passages to quote.

Each candidate sentence is scored by its passage's rank, the question terms it holds, its cosine
to the question (for the most promising few, whose vectors are cached) and whether it has the
shape the question asks for (a date, a number, a list…); the best few that fit together are
chosen, with the clause or list items that complete them. qa/answer.py decides whether to answer
at all and composes the quotes; this module only picks them.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa import crosslingual, naming
from qa.answer_types import ASKING_WORDS, FIGURE, FORMS, SYNONYMS, TITLES, enumeration_of
from qa.search import Index, Passage
from qa.text import embedding_input, is_english, normalize, sentence_spans

MAX_SENTENCES = 3
MAX_CHARS = 200
# A clause that ends in ；or ：is half a rule or the start of a list: its sentence is completed
# (up to its 。) within this budget; past it the answer ends with "…" and the card has the rest.
MAX_ENUMERATION_CHARS = 420
_SEVERAL_ASKED = re.compile(r"分别|各自|各是|各为|\brespectively\b", re.I)
MAX_EMBEDDED = 8  # sentences embedded per question (~15 ms each); 16 scored the same, slower
SCORE_MARGIN = 0.2  # further sentences must score within this of the best one
LENGTH_PENALTY = 0.1  # per 100 characters beyond 80
# sentence score = passage + lexical + dense (+ question-form bonus); tuned on the quality set
WEIGHTS = (0.3, 0.4, 0.3)
FORM_BONUS = 0.15
# A title question (职务) is answered only by a sentence that names one: a strong bonus.
FORM_BONUSES = {"title": 0.4, "penalty": 0.3}
# Forms whose mark may sit in the lead-in of an item (（三）未按照规定制作和送检样品 is punished
# by its article's lead-in, 处…罚款).
_FORMS_IN_CONTEXT = frozenset({"penalty"})
# Who a provision binds. A question about 重点排放单位 is not answered by the rule for
# 技术服务机构, however alike their words: sentences that name another actor and not the
# asked one lose this much.
ACTORS = ("重点排放单位", "技术服务机构", "项目业主", "审定与核查机构", "注册登记机构", "交易机构",
          "交易主体", "生态环境主管部门", "市场监管部门", "节能审查机关", "建设单位")  # fmt: skip
AUTHORITIES = ("生态环境主管部门", "市场监管部门", "节能审查机关")
OTHER_ACTOR_PENALTY = 0.2
# A figure with its unit (5倍, 50万元, 10%) that the question names is in the sentence or its
# lead-in: that sentence is the provision asked about; one with other figures of that unit is not.
QUOTED_FIGURE_BONUS = 0.2
_QUOTED_FIGURE = re.compile(
    r"\d+(?:\.\d+)?(?:倍|万元|亿元|元|%|个工作日|万吨|吨|亿立方米|万千瓦|亿千瓦)"
)
# A sentence that says again what the question says an earlier text said (甲烷方案说支持…，按现行
# 规定…) is where the reader started, not the answer.
ECHO_PENALTY = 0.3
ECHO_SHARE = 0.6  # of the statement's character pairs the sentence holds
# 本办法自2025年9月1日起施行。原《…办法》同时废止。 dates the texts themselves: it answers when
# a text applies, not when a project must have started or been accepted.
_COMMENCEMENT = re.compile(r"本(?:办法|条例|方案|规定|法|通知|决定|意见)自.{0,24}?起施行|同时废止")
_COMMENCEMENT_ASKED = re.compile(
    r"施行|生效|实施|有效|失效|适用|废止|执行|take effect|in force|effective|appl(?:y|ies)|repeal",
    re.I,
)
COMMENCEMENT_PENALTY = 0.3
_TITLE = re.compile(r"《[^》]+》")
ENUMERATION_BONUS = 0.2  # a clause listing things of the asked kind (哪些行业: 钢铁、水泥行业)
# The words of a question's last clause (…，还可以抄送给谁？), or a follow-up's own words, weigh
# this much more than the rest. On dev, 2 changed nothing; 4 answered three more, one fewer.
FOCUS_WEIGHT = 4.0


@dataclass
class Sentence:
    rank: int  # passage rank
    start: int
    end: int
    text: str
    score: float = 0.0


_vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_vectors_lock = threading.Lock()
_CACHE_SIZE = 4096


def clear_vector_cache() -> None:
    """Forget the cached sentence vectors (benchmarks measure cold-cache latency)."""
    with _vectors_lock:
        _vectors.clear()


def _embed(index: Index, texts: list[str]) -> np.ndarray:
    """Sentence vectors, cached: the same paragraphs come back for related questions."""
    model = index.embedder.model_id
    with _vectors_lock:
        missing = [t for t in dict.fromkeys(texts) if (model, t) not in _vectors]
    if missing:
        # One at a time: the int8 model quantises activations per batch, so a sentence's vector
        # would shift (cosine 0.997) with the sentences batched beside it, and an answer would
        # depend on what was asked before. Batching saves little on sentences this short.
        fresh = [index.embedder.embed_passages([text])[0] for text in missing]
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


def sentence_similarity(index: Index):
    """`similarity(a, b)`: cosine of `a` as a query to `b` as a (cached) sentence vector."""

    def similarity(a: str, b: str) -> float:
        va = index.embedder.embed_queries([a])[0]
        return float(_embed(index, [b])[0] @ va)

    return similarity


def _match(term: str | frozenset[str], text: str) -> float:
    """1 when the term is in the text; an English term when any of its translations is."""
    if not isinstance(term, str):
        return max((_match(word, text) for word in term), default=0.0)
    return 1.0 if term in text else 0.5 * all(ch in text for ch in term)


def _pairs(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _inside(term: str | frozenset[str], longer: str | frozenset[str]) -> bool:
    """`term` is a proper part of `longer` (生态 of 生态环境); English terms are never parts."""
    return isinstance(term, str) and isinstance(longer, str) and term != longer and term in longer


def select_sentences(index: Index, vector: np.ndarray, passages: Sequence[Passage], terms: list,
            form: str | None, require: re.Pattern | None = None,
            question: str = "", keep=None) -> list[Sentence]:  # fmt: skip
    """The sentences to quote, best first; with `require`, the best one must match it; with
    `keep` (Sentence → bool), only the sentences it keeps are candidates.
    `question` (as asked) tells the kind of list asked for: 哪些行业 is answered by 钢铁、水泥、
    铝冶炼行业, an enumeration of that kind."""
    scores = np.array([p.score for p in passages])
    spread = float(scores.max() - scores.min()) or 1.0
    answers = next((p for name, _, p in FORMS if name == form), None)
    candidates = [
        Sentence(rank, start, end, passage.text[start:end])
        for rank, passage in enumerate(passages)
        for start, end in sentence_spans(passage.text)
        # A signature (总理　李强) is short and answers who signed.
        if end - start >= 6 or TITLES.match(passage.text, start, end)
    ]
    candidates = [c for c in candidates if keep is None or keep(c)]
    if require is not None and not any(require.search(c.text) for c in candidates):
        return []
    if not candidates:
        return []
    # Terms every candidate shares (usually the topic) can't tell sentences apart: weight
    # each term by its rarity among the candidates, and by its length.
    # A sentence speaks within its document: 本办法自…起施行 answers a question that names the
    # 办法, so the title and heading count as part of every sentence (and, shared by all the
    # sentences of a document, weigh little against the terms that tell them apart).
    # An item of a list (（二）篡改、伪造数据…；) is read with its lead-in (重点排放单位有下列
    # 情形之一的…), which says who is concerned and what follows.
    contexts = [
        embedding_input(passages[c.rank].title, passages[c.rank].heading,
                        " ".join([*(x.text for x in _lead_in(candidates, c, passages[c.rank].text)),
                                  c.text]))
        for c in candidates
    ]  # fmt: skip
    texts = [normalize(context) for context in contexts]
    terms = [t for t in dict.fromkeys(terms) if t not in ASKING_WORDS]
    # A term absent as a word but present character by character (收费 in 收取任何费用)
    # gets half credit: Chinese abbreviates compounds this way.
    # jieba's search mode cuts 生态环境主管部门 into 生态, 环境, 生态环境, 主管, 部门…: a part
    # counts only where the longer term holding it doesn't match, or a sentence that repeats the
    # question's long subject outscores the one that answers (核查完成…反馈核查结果).
    parts_of = [[k for k, longer in enumerate(terms) if _inside(t, longer)] for t in terms]
    matches = [
        [0.0 if any(row[k] == 1.0 for k in parts_of[j]) else row[j] for j in range(len(terms))]
        for row in ([_match(t, text) for t in terms] for text in texts)
    ]
    df = np.sum(np.array(matches, dtype=float).reshape(len(texts), len(terms)) > 0, axis=0)
    lengths = [len(t) if isinstance(t, str) else max(map(len, t), default=0) for t in terms]
    weights = np.minimum(lengths, 4) * np.log((len(texts) + 1) / (df + 0.5))
    focus = _in_focus(question, terms)
    if any(focus):
        weights = weights * np.array([FOCUS_WEIGHT if f else 1.0 for f in focus])
    lexical = np.array([float(np.dot(m, weights)) if terms else 0.0 for m in matches])
    lexical = lexical / lexical.max() if lexical.max() > 0 else lexical
    words = "".join(w for t in terms for w in ([t] if isinstance(t, str) else t))
    asked_actors = [a for a in ACTORS if a in words]
    # Asked which organ (可以向哪些部门举报), a sentence naming one answers: it is no other actor.
    others = [a for a in ACTORS if form != "who" or a not in AUTHORITIES]
    enumerations = enumeration_of(question)
    # 并处违法所得5倍以上10倍以下的罚款 quoted by the question names its provision: not the one
    # with 1倍以上10倍以下.
    quoted_figures = _QUOTED_FIGURE.findall(normalize(question))
    quoted_units = {_unit(f) for f in quoted_figures}
    earlier = [_pairs(said) for said in naming.earlier_statements(question)]
    commencement_unasked = question and not _COMMENCEMENT_ASKED.search(question)
    for sentence, overlap, context in zip(candidates, lexical, texts):
        prior = (passages[sentence.rank].score - scores.min()) / spread
        shaped = context if form in _FORMS_IN_CONTEXT else sentence.text
        bonus = (
            FORM_BONUSES.get(form, FORM_BONUS)
            if answers is not None and answers.search(shaped)
            else 0.0
        )
        if enumerations is not None and enumerations.search(sentence.text):
            bonus += ENUMERATION_BONUS
        if quoted_figures and all(f in context for f in quoted_figures):
            bonus += QUOTED_FIGURE_BONUS
        elif quoted_units & {_unit(f) for f in _QUOTED_FIGURE.findall(context)}:
            bonus -= QUOTED_FIGURE_BONUS  # 1倍以上10倍以下: another figure of that kind
        if (
            asked_actors
            and not any(a in context for a in asked_actors)
            and any(a in context for a in others)
        ):
            bonus -= OTHER_ACTOR_PENALTY
        if earlier:
            pairs = _pairs(normalize(sentence.text))
            if any(len(said & pairs) >= ECHO_SHARE * len(said) for said in earlier):
                bonus -= ECHO_PENALTY
        if (commencement_unasked and _COMMENCEMENT.search(sentence.text)
                and not any(t in question for t in _TITLE.findall(sentence.text))):  # fmt: skip
            bonus -= COMMENCEMENT_PENALTY  # …unless the question names the text it repeals
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
    if require is not None:
        # The quote that answers leads: the best sentence that has the asked shape.
        shaped = next((s for s in head if require.search(s.text)), None)
        shaped = shaped or next(s for s in candidates if require.search(s.text))
        head = [shaped, *(s for s in head if s is not shaped)]
        shaped.score = max(shaped.score, head[1].score if len(head) > 1 else shaped.score)
    best = head[0].score
    # 名录和账户最晚分别是哪天: each thing asked gets its sentence.
    budget = MAX_ENUMERATION_CHARS if _SEVERAL_ASKED.search(question) else MAX_CHARS
    chosen: list[Sentence] = []
    for sentence in head:
        if sentence.score >= best - SCORE_MARGIN and _fits(sentence, chosen, budget):
            chosen.append(sentence)
            # A clause that ends in ；or ：is half a rule (操纵…的罚款；没有违法所得的…) or the
            # start of a list: complete its sentence before anything else.
            text = passages[sentence.rank].text
            for part in [
                *_lead_in(candidates, sentence, text),
                *_completion(candidates, sentence, text),
            ]:
                if part in chosen:
                    continue
                if sum(len(c.text) for c in chosen) + len(part.text) > MAX_ENUMERATION_CHARS:
                    break
                chosen.append(part)
    # Neighbours of a chosen sentence in its paragraph (the clause after a ；, the list
    # after a ：) join with a looser margin: they read as one quote.
    for sentence in head:
        if sentence not in chosen and sentence.score >= best - 2 * SCORE_MARGIN and any(
            c.rank == sentence.rank and (c.end <= sentence.start or sentence.end <= c.start)
            and _adjacent(passages[c.rank].text, c, sentence) for c in chosen
        ) and _fits(sentence, chosen, budget):  # fmt: skip
            chosen.append(sentence)
    if form in ("number", "target") and chosen:
        _add_figures(candidates, chosen, passages[chosen[0].rank].text, terms)
    return chosen


def _in_focus(question: str, terms: list) -> list[bool]:
    """Per term, whether it is in the question's last clause that holds any: 定期向生态环境部
    报告的运行情况，还可以抄送给谁？ asks about 抄送; what comes before sets the scene, as the
    earlier turns do for a follow-up (那交易主体要在哪里开户？ asks about 开户)."""
    if is_english(question):  # English: the kind of thing asked (what kind of instruments)
        asked = crosslingual.asked_kind_words(question)
        if not asked:
            # …want to inspect our project. Are we allowed to refuse? asks about refusing: what
            # comes before sets the scene.
            sentences = [s for s in re.split(r"(?<=[.?!])\s+", question.strip()) if s]
            last = sentences[-1] if len(sentences) > 1 else ""
            asked = frozenset(w for term in crosslingual.english_terms(last) for w in term)
            asked = asked or crosslingual.asked_predicate_words(question)
        focus = [not isinstance(t, str) and bool(t & asked) for t in terms]
        return focus if not all(focus) else [False] * len(terms)
    clauses = [normalize(c) for c in re.split(r"[，,；;：:]", question) if c.strip()]

    def held_in(text: str) -> list[bool]:
        # A word rules use for a question's word (处罚 → 罚款) is held where that word is.
        said = {t for t in terms if isinstance(t, str) and t in text}
        said |= {s for t in said for s in SYNONYMS.get(t, ())}
        return [isinstance(t, str) and t in said for t in terms]

    if len(clauses) < 2:
        held = held_in(normalize(question))
        return held if not all(held) else [False] * len(terms)
    for clause in reversed(clauses):
        held = held_in(clause)
        if any(held):
            return held
    return [False] * len(terms)


def _unit(figure: str) -> str:
    return re.sub(r"[\d.]", "", figure)


def _figures(text: str, asked: set[str]) -> bool:
    """True when the text holds a figure other than the numbers the question itself names."""
    for number in asked:
        text = text.replace(number, "")
    return bool(FIGURE.search(text))


def _add_figures(candidates: list[Sentence], chosen: list[Sentence], text: str,
                 terms: list[str]) -> None:  # fmt: skip
    """到2030年，…达到国际先进水平。 answers 2030年的目标 only with the figures that follow it:
    the next clauses of the paragraph that carry figures join, within the budget."""
    asked = {t for t in terms if isinstance(t, str) and t.isdigit()}
    first = chosen[0]
    if _figures(first.text, asked):
        return
    current = first
    while (following := _next_clause(candidates, current, text)) is not None:
        current = following
        if following in chosen:
            continue
        if sum(len(c.text) for c in chosen) + len(following.text) > MAX_ENUMERATION_CHARS:
            break
        if _figures(following.text, asked):
            chosen.append(following)


def _next_clause(candidates: list[Sentence], sentence: Sentence, text: str) -> Sentence | None:
    return next(
        (c for c in candidates if c.rank == sentence.rank and c.start >= sentence.end
         and not text[sentence.end : c.start].strip()),
        None,
    )  # fmt: skip


def _completion(candidates: list[Sentence], sentence: Sentence, text: str) -> list[Sentence]:
    """The clauses after one that ends in ；or ：, up to the end of its sentence (。) or list.
    After an ASCII ; or : (often markup in web pages), the one clause that completes it."""
    if re.search(r"[;:]$", sentence.text):
        following = _next_clause(candidates, sentence, text)
        return [following] if following is not None else []
    chain, current = [], sentence
    while re.search(r"[；：]$", current.text):
        following = _next_clause(candidates, current, text)
        if following is None:
            break
        chain.append(following)
        current = following
    return chain


def _lead_in(candidates: list[Sentence], sentence: Sentence, text: str) -> list[Sentence]:
    """For an item of a list (（二）…；), the lead-in it belongs to: the line before the items
    that ends in ：(有下列情形之一的，处…罚款：), as its clauses. An item alone says what is
    punished, never the penalty."""
    line_start = text.rfind("\n", 0, sentence.start) + 1
    if not LIST_ITEM.match(text[line_start : sentence.end]):
        return []
    position = line_start - 1
    while position > 0:
        previous_start = text.rfind("\n", 0, position) + 1
        line = text[previous_start:position].strip()
        if re.search(r"[：:]$", line):
            return [c for c in candidates if c.rank == sentence.rank
                    and previous_start <= c.start and c.end <= position]  # fmt: skip
        if not LIST_ITEM.match(line):
            return []
        position = previous_start - 1
    return []


def _fits(sentence: Sentence, chosen: list[Sentence], budget: int = MAX_CHARS) -> bool:
    length = sum(len(c.text) for c in chosen)
    return (
        len(chosen) < MAX_SENTENCES
        and (not chosen or length + len(sentence.text) <= budget)
        # One paragraph doesn't say a thing twice: its next sentence may share most words of a
        # short one (…不能正常作业的，应当及时修复或者更新。在…不能正常作业期间确需排放的…).
        and not any(
            c.rank != sentence.rank and _near_duplicate(sentence.text, c.text) for c in chosen
        )
    )


def _adjacent(text: str, a: Sentence, b: Sentence) -> bool:
    first, second = (a, b) if a.start < b.start else (b, a)
    return not text[first.end : second.start].strip()


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\W+", "", normalize(text))
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _near_duplicate(a: str, b: str) -> bool:
    x, y = _bigrams(a), _bigrams(b)
    return bool(x and y) and len(x & y) / min(len(x), len(y)) >= 0.8


LIST_ITEM = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+是|（[一二三四五六七八九十\d]+）|[一二三四五六七八九十]+、|\d{1,2}[.．、]|第[一二三四五六七八九十]+[，,、])"
)
