"""Where a paragraph sits in its document: 编/章/节/条/款/项 of legal texts, the outline of policy texts.

`locate(blocks)` gives each block of a document a `Locator`: for a law or regulation the
chapter path, the article (第二十二条), the paragraph of the article (款, counted from 1) and the
item (项, （二）); for a policy document the headings above it (二、主要目标 › （三）…). Citations
read the way readers cite: 第二十二条第一款第（二）项, or the section heading.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

CN_DIGITS = "零一二三四五六七八九"
_CN_VALUES = {c: i for i, c in enumerate(CN_DIGITS)} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL = r"[一二三四五六七八九十百千零〇两\d]+"

ARTICLE = re.compile(
    rf"^\s*\**\s*(第{NUMERAL}条)(?:之[一二三四五六七八九十]+)?\**(?=[\s\u3000]|$|[^\w])"
)
DIVISION = re.compile(rf"^\s*第{NUMERAL}([编章节])")
ITEM = re.compile(r"^\s*[（(]([一二三四五六七八九十]+)[）)]")
OUTLINE = (  # heading patterns of policy documents, outermost first
    re.compile(r"^[一二三四五六七八九十]+、"),
    re.compile(r"^[（(][一二三四五六七八九十]+[）)]"),
    re.compile(r"^\d{1,2}[.．、](?!\d)"),
)
_DIVISION_LEVEL = {"编": 0, "章": 1, "节": 2}
# A run-in heading: the numbered title opens its paragraph and ends at the first 。 (意见:
# "（六）推动产业结构优化升级。加快推进…"). A list item (（一）具备…；) has no such title.
_RUN_IN = re.compile(
    r"^((?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]|\d{1,2}[.．、](?!\d))"
    r"[^。；;：:，,\n]{2,28})。(?=\S)"
)


def cn_to_int(text: str) -> int | None:
    """二十二 → 22, 一百零五 → 105, 22 → 22; None when it is not a number."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for char in text:
        if char in _CN_VALUES:
            current = _CN_VALUES[char]
        elif char in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[char]
            current = 0
        else:
            return None
    return total + current


def int_to_cn(number: int) -> str:
    """22 → 二十二, 10 → 十, 105 → 一百零五 (the form of article numbers)."""
    if number < 10:
        return CN_DIGITS[number]
    if number < 20:
        return "十" + (CN_DIGITS[number % 10] if number % 10 else "")
    if number < 100:
        tens, ones = divmod(number, 10)
        return CN_DIGITS[tens] + "十" + (CN_DIGITS[ones] if ones else "")
    hundreds, rest = divmod(number, 100)
    head = CN_DIGITS[hundreds] + "百"
    if rest == 0:
        return head
    if rest < 10:
        return head + "零" + CN_DIGITS[rest]
    return head + ("一" if rest < 20 else "") + int_to_cn(rest)


def article_name(number: int) -> str:
    return f"第{int_to_cn(number)}条"


def normalize_article(text: str) -> str | None:
    """第22条 / 第二十二条 → 第二十二条; None when it names no article."""
    match = re.fullmatch(rf"第\s*({NUMERAL})\s*条", text.strip())
    if not match:
        return None
    number = cn_to_int(match.group(1))
    return article_name(number) if number else None


@dataclass(frozen=True)
class Locator:
    """The place of a paragraph: divisions (第五章…), article, 款 and 项, or outline headings."""

    divisions: tuple[str, ...] = ()  # 第一编 › 第二章 › 第一节, as written (short form)
    article: str | None = None  # 第二十二条
    clause: int | None = None  # 款, 1-based, within the article
    clauses: int = 0  # how many 款 the article has (第一款 is named only when there are several)
    item: str | None = None  # （二）
    sections: tuple[str, ...] = ()  # outline headings of a policy document, outermost first

    @property
    def is_legal(self) -> bool:
        return self.article is not None

    def cite(self) -> str:
        """第二十二条第一款第（二）项 for a provision; the innermost heading for a policy text."""
        if self.article:
            parts = [self.article]
            if self.clause and (self.clauses > 1 or self.item):
                parts.append(f"第{int_to_cn(self.clause)}款")
            if self.item:
                parts.append(f"第{self.item}项")
            return "".join(parts)
        return self.sections[-1] if self.sections else ""

    def path(self) -> str:
        """第五章 › 第二十二条 › 第一款 › 第（二）项, or 二、主要目标 › （一）…"""
        parts = list(self.divisions)
        if self.article:
            parts.append(self.article)
            if self.clause and (self.clauses > 1 or self.item):
                parts.append(f"第{int_to_cn(self.clause)}款")
            if self.item:
                parts.append(f"第{self.item}项")
        else:
            parts.extend(self.sections)
        return " › ".join(parts)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Locator | None:
        if not text:
            return None
        try:
            fields = json.loads(text)
            return cls(**{**fields, "divisions": tuple(fields.get("divisions", ())),
                          "sections": tuple(fields.get("sections", ()))})  # fmt: skip
        except (ValueError, TypeError):
            return None


def _short_heading(text: str) -> str:
    """第一章　总　　则 → 第一章 总则: headings as readers write them."""
    text = re.sub(r"[\s\u3000]+", " ", text.strip())
    text = re.sub(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])", "", text)
    return text.replace("第 ", "第").strip()[:40]


def locate(blocks: Sequence) -> list[Locator]:
    """A Locator for each block (objects with `.text` and `.is_heading`), in order."""
    is_legal = sum(1 for b in blocks if ARTICLE.match(b.text)) >= 3
    # A news report's bold headings (将尽快建立强化气候行动工作组) are its sections when it
    # numbers none; a heading before any body text is the title, not a section.
    plain_headings = not is_legal and not any(
        b.is_heading and any(p.match(b.text.strip()) for p in OUTLINE) for b in blocks
    )
    body_seen = False
    divisions: list[tuple[int, str]] = []  # (level, heading)
    sections: list[tuple[int, str]] = []
    article: str | None = None
    clause = 0
    item: str | None = None
    raw: list[tuple] = []
    for block in blocks:
        text = block.text.strip()
        division = DIVISION.match(text) if is_legal else None
        if division and (block.is_heading or len(text) <= 30):
            level = _DIVISION_LEVEL[division.group(1)]
            divisions = [d for d in divisions if d[0] < level] + [(level, _short_heading(text))]
            article, clause, item = None, 0, None
            raw.append((tuple(h for _, h in divisions), None, None, None, ()))
            continue
        start = ARTICLE.match(text) if is_legal else None
        if start:
            article, clause, item = start.group(1), 1, None
        elif article is not None and not block.is_heading:
            item_match = ITEM.match(text)
            if item_match:
                item = f"（{item_match.group(1)}）"
            else:
                clause, item = clause + 1, None
        elif block.is_heading or (not is_legal and _RUN_IN.match(text)):
            level = next((i for i, p in enumerate(OUTLINE) if p.match(text)), None)
            if level is None and block.is_heading and plain_headings and body_seen:
                level = 0
            if level is not None:
                run_in = None if block.is_heading else _RUN_IN.match(text)
                heading = _short_heading(run_in.group(1) if run_in else text)
                sections = [s for s in sections if s[0] < level] + [(level, heading)]
            article = None
        body_seen = body_seen or not block.is_heading
        raw.append((tuple(h for _, h in divisions), article, clause if article else None, item,
                    tuple(h for _, h in sections)))  # fmt: skip
    clause_counts: dict[tuple, int] = {}
    for divs, art, cl, _, _ in raw:
        if art:
            key = (divs, art)
            clause_counts[key] = max(clause_counts.get(key, 0), cl or 0)
    return [
        Locator(divs, art, cl, clause_counts.get((divs, art), 0) if art else 0, it, secs)
        for divs, art, cl, it, secs in raw
    ]


def common(locators: Sequence[Locator]) -> Locator | None:
    """The locator that covers all of `locators` (a passage spanning several items of one
    article is cited by the article, or its 款)."""
    if not locators:
        return None
    first = locators[0]
    if all(loc == first for loc in locators):
        return first
    if first.article and all(
        (loc.divisions, loc.article) == (first.divisions, first.article) for loc in locators
    ):
        same_clause = all(loc.clause == first.clause for loc in locators)
        return Locator(first.divisions, first.article, first.clause if same_clause else None,
                       first.clauses)  # fmt: skip
    shared = 0
    while shared < len(first.sections) and all(
        len(loc.sections) > shared and loc.sections[shared] == first.sections[shared]
        for loc in locators
    ):
        shared += 1
    divisions = first.divisions if all(loc.divisions == first.divisions for loc in locators) else ()
    return Locator(divisions, sections=first.sections[:shared])
