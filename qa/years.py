"""The years a target question asks about (到2025年, 2025年和2030年, “十五五”期间), and whether a
sentence speaks of them: by naming one, or under a lead that does (到2030年，…。森林覆盖率…).

Between qa.sentences, which chooses among candidates, and qa.answer, which says which ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from qa.search import Passage
from qa.sentences import Sentence
from qa.text import sentence_spans

# The year a target is asked for: 到2025年, 2030年…目标/达到多少, 那2030年呢; not a baseline
# (比2020年) nor a document's year (2023年的甲烷方案, 2020年碳排放权交易管理办法).
_TARGET_YEAR = re.compile(
    r"(?<=[到至])(20\d\d)年|(?<![比较\d])(20\d\d)年(?!度)"
    r"(?![^，。？]{0,10}?(?:方案|办法|条例|意见|通知|规定|决定|规划))"
    r"(?=[^，。？]{0,10}?(?:目标|达到|要|下降|提高|多少|呢))"
)
# In English: a target by, for or in a year (What forest coverage target … for 2030?).
_TARGET_YEAR_EN = re.compile(r"\b(?:by|for|in|until) (20\d\d)\b(?!'s)", re.I)
# Years asked together (2025年和2030年分别…): the first is as much a target year as the second.
# Pairs overlap so that a run (2025年、2030年、2060年三个时间点) is joined through.
_JOINED_YEARS = re.compile(r"(20\d\d)年?\s*(?:和|与|及|以及|、|到|至|—|-|~|～)\s*(?=(20\d\d)年)")
# A five-year plan period (“十五五”期间, 十四五时期) is its five years: 十四五 is 2021–2025.
_DIGITS = "一二三四五六七八九"
_PLAN = f"十[{_DIGITS}]五"
_PERIOD = re.compile(f"十([{_DIGITS}])五")
# A year asked beside a period (2025年和“十五五”期间分别…; “十四五”和2030年…).
_YEAR_WITH_PERIOD = re.compile(
    rf"(20\d\d)年?\s*(?:和|与|及|以及|、)\s*“?{_PLAN}"
    rf"|{_PLAN}”?(?:期间|时期|末)?\s*(?:和|与|及|以及|、)\s*(?:到)?(20\d\d)年"
)
_LEAD = re.compile(rf"到(20\d\d)年|“?十([{_DIGITS}])五”?(?:期间|时期|末)")

Keep = Callable[[Sentence], bool]


def _period_years(ordinal: str) -> frozenset[str]:
    first = 2006 + 5 * _DIGITS.index(ordinal)  # 十一五 began in 2006
    return frozenset(str(year) for year in range(first, first + 5))


def asked_year_groups(question: str) -> list[frozenset[str]]:
    """Each year (2025年) or plan period (“十五五”, its five years) the question asks a target
    for, earliest first; two when it compares (2025年和2030年分别…, “十四五”和“十五五”有什么不同)."""
    years = {year for pair in _TARGET_YEAR.findall(question) for year in pair if year}
    if not re.search(r"[\u4e00-\u9fff]", question):
        years |= set(_TARGET_YEAR_EN.findall(question))
    joined = _JOINED_YEARS.findall(question)
    for first, second in joined + joined[::-1]:  # forwards, then back along the run
        if years & {first, second}:
            years |= {first, second}
    years |= {year for pair in _YEAR_WITH_PERIOD.findall(question) for year in pair if year}
    groups = [frozenset({year}) for year in years]
    groups += [_period_years(p) for p in set(_PERIOD.findall(question))]
    # 十四五…到2025年: the year is within the asked period, not asked apart from it
    groups = [g for g in groups if not any(g < other for other in groups)]
    return sorted(set(groups), key=min)


def asked_years(question: str) -> set[str]:
    """Every year the question asks a target for."""
    return {year for group in asked_year_groups(question) for year in group}


_YEAR_WORDS = re.compile(rf"20\d\d年?|“?{_PLAN}”?(?:期间|时期|末)?")


def without_years(terms: list, question: str) -> list:
    """The search terms less those cut from the question's years and periods (2030, 年, 十五,
    期间): among sentences already chosen for their year, they only favour the one that names
    one (到2030年，…; 比2005年下降65%), not the one that answers."""
    spans = _YEAR_WORDS.findall(question)
    return [t for t in terms if not (isinstance(t, str) and any(t in span for span in spans))]


def _names(text: str, years: frozenset[str]) -> bool:
    periods = {_DIGITS[(int(y) - 2006) // 5] for y in years if 2006 <= int(y) < 2051}
    return any(f"{year}年" in text for year in years) or any(
        f"十{p}五" in text and _period_years(p) <= years for p in periods
    )


def _lead_years(passages: Sequence[Passage], sentence: Sentence) -> frozenset[str] | None:
    """The years of the last lead (到2030年，; “十四五”期间，) before the sentence ends."""
    leads = _LEAD.findall(passages[sentence.rank].text[: sentence.end])
    if not leads:
        return None
    year, period = leads[-1]
    return frozenset({year}) if year else _period_years(period)


def _speaks_of(passages: Sequence[Passage], years: frozenset[str], unled: bool) -> Keep:
    """Whether a sentence speaks of the years: it names one of them or their period (到2025年，…
    达到80%以上，2030年达到85%以上 speaks of 2030 too), or sits under the lead of one (到2025年，…;
    “十五五”期间，…); `unled`: a sentence under no lead counts too."""

    def speaks(sentence: Sentence) -> bool:
        if _names(sentence.text, years):
            return True
        lead = _lead_years(passages, sentence)
        return unled if lead is None else bool(lead & years)

    return speaks


def in_asked_years(passages: Sequence[Passage], question: str) -> Keep | None:
    """Whether a sentence speaks of the years the question asks (2025年森林覆盖率目标; “十五五”
    期间…目标), or sits under no year's lead at all. None when the question asks no year or
    period."""
    asked = frozenset(asked_years(question))
    return _speaks_of(passages, asked, unled=True) if asked else None


def of_asked_year(passages: Sequence[Passage], picked: list[Sentence],
                  question: str) -> list[Sentence]:  # fmt: skip
    """Quotes that sit under another year's lead (到2030年，…森林覆盖率达到25%左右) are dropped
    when the question asks one year (2025年森林覆盖率目标) or period and others are left: a
    figure of 2030 beside the one of 2025 reads as a second answer to the same question."""
    of_asked = in_asked_years(passages, question)
    return ([s for s in picked if of_asked(s)] or picked) if of_asked else picked


def with_each_asked_year(passages: Sequence[Passage], picked: list[Sentence], question: str,
                         select: Callable[[Keep], list[Sentence]]) -> list[Sentence]:  # fmt: skip
    """A question across years (2025年和2030年分别定了什么目标; “十四五”和“十五五”有什么不同) is
    answered for each, in the years' order: the best quote `select` finds among the sentences
    that speak of that year, with what completes it in its paragraph. `picked`, chosen for the
    whole question, favours whichever sentence names a year (“十四五”期间，…) and answers
    for a year `select` finds nothing of."""
    groups = asked_year_groups(question)
    if len(groups) < 2:
        return picked

    quoted: list[Sentence] = []
    for speaks in (_speaks_of(passages, years, unled=False) for years in groups):
        chosen = select(speaks)
        own = [s for s in chosen if s.rank == chosen[0].rank] if chosen else []
        own = own or [s for s in picked if speaks(s)]
        taken = {(s.rank, s.start) for s in quoted}
        quoted += [s for s in own if (s.rank, s.start) not in taken]
    return quoted or picked


def with_year_leads(passages: Sequence[Passage], picked: list[Sentence]) -> list[Sentence]:
    """A quoted figure under a year's lead that doesn't name the year itself (单位国内生产总值二氧化碳
    排放比2005年下降65%以上 under 到2030年，…) brings the sentence that opens with the lead: a
    target read without its year reads as today's, or as another year's."""
    taken = {(s.rank, s.start) for s in picked}
    result: list[Sentence] = []
    for sentence in picked:
        text = passages[sentence.rank].text
        # a lead opens its sentence: 石油消费“十五五”时期进入峰值平台期 leads nothing after it
        opening = [(a, b) for a, b in sentence_spans(text) if b <= sentence.start
                   and _LEAD.match(text[a:b].lstrip(" “\n"))]  # fmt: skip
        if opening and not _LEAD.search(sentence.text):
            start, end = opening[-1]
            if (sentence.rank, start) not in taken:
                result.append(Sentence(sentence.rank, start, end, text[start:end]))
                taken.add((sentence.rank, start))
        result.append(sentence)
    return result
