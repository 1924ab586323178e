"""Which document governs: level (效力层级), effective date, status and what replaced what.

At build time `infer(document)` reads what a document says of itself: front matter (`level`,
`status`, `effective`, `supersedes`, `superseded_by`), its document number (国务院令 → 行政法规,
部令 → 部门规章), its issuer and title, "自…起施行", and the titles it repeals ("…同时废止").
At read time `resolve()` joins the documents of a library: a document repealed or replaced by
another indexed one is marked 已废止 with `superseded_by`, and the newer one `supersedes` it.
`governing_order()` ranks passages of several documents: in force first, then the higher level,
then the newer effective date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LAW = "法律"
ADMINISTRATIVE_REGULATION = "行政法规"
DEPARTMENTAL_RULE = "部门规章"
POLICY = "党内法规/政策文件"
NORMATIVE = "规范性文件"
NEWS = "新闻报道"
LEVELS = (LAW, ADMINISTRATIVE_REGULATION, POLICY, DEPARTMENTAL_RULE, NORMATIVE, NEWS)
# Higher ranks govern. A joint opinion of the Party Central Committee and the State Council
# steers the rules below it, but a departmental rule is still the provision that binds.
_RANK = {LAW: 6, ADMINISTRATIVE_REGULATION: 5, POLICY: 4, DEPARTMENTAL_RULE: 3, NORMATIVE: 2,
         NEWS: 1}  # fmt: skip

IN_FORCE = "现行有效"
REPEALED = "已废止"
AMENDED = "已被修改"
STATUSES = (IN_FORCE, REPEALED, AMENDED)

_EFFECTIVE = re.compile(
    r"自\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*起\s*(?:施行|实施|执行|生效)"
)
_FROM_PUBLICATION = re.compile(
    r"自(?:公布|发布|印发)之日(?:[（(][^）)]*[）)])?起(?:施行|实施|执行)"
)
_REPEALS = re.compile(r"《([^》]{4,60})》[^。；《]{0,60}?(?:同时)?(?:废止|不再执行)")
_TITLE_SUFFIX = re.compile(r"[（(](?:试行|暂行|征求意见稿|\d{4}年[^）)]*)[）)]$")


@dataclass(frozen=True)
class Authority:
    """What a document is worth as a source, and whether it still governs."""

    level: str | None = None
    status: str = IN_FORCE
    effective: str | None = None  # ISO date it took effect
    supersedes: tuple[str, ...] = ()  # doc ids (or titles, when not in the library)
    superseded_by: tuple[str, ...] = ()
    repeals: tuple[str, ...] = field(default=(), compare=False)  # titles the text repeals

    @property
    def rank(self) -> int:
        return _RANK.get(self.level or "", 0)

    @property
    def in_force(self) -> bool:
        return self.status == IN_FORCE

    def to_json(self) -> str:
        return json.dumps(
            {"level": self.level, "status": self.status, "effective": self.effective,
             "supersedes": list(self.supersedes), "superseded_by": list(self.superseded_by),
             "repeals": list(self.repeals)}, ensure_ascii=False)  # fmt: skip

    @classmethod
    def from_json(cls, text: str | None) -> Authority:
        try:
            fields = json.loads(text) if text else {}
            return cls(
                level=fields.get("level"), status=fields.get("status") or IN_FORCE,
                effective=fields.get("effective"),
                supersedes=tuple(fields.get("supersedes") or ()),
                superseded_by=tuple(fields.get("superseded_by") or ()),
                repeals=tuple(fields.get("repeals") or ()),
            )  # fmt: skip
        except (ValueError, TypeError, AttributeError):
            return cls()


def infer_level(title: str, issuer: str | None, doc_number: str | None, has_source_url: bool,
                declared: object = None) -> str | None:  # fmt: skip
    """效力层级 from front matter, else from the document number, issuer and title."""
    if isinstance(declared, str) and declared.strip() in LEVELS:
        return declared.strip()
    number, issuer, title = doc_number or "", issuer or "", title or ""
    if "全国人民代表大会" in issuer or re.match(r"^中华人民共和国.{1,30}法(?:（|$)", title):
        return LAW
    if "国务院令" in number or (issuer.strip() == "国务院" and re.search(r"条例", title)):
        return ADMINISTRATIVE_REGULATION
    if "中共中央" in issuer or "中发" in number or "中办发" in number:
        return POLICY
    if re.search(r"[部局委署行会]令|委令|部\s*令", number) or (
        re.search(r"(?:办法|规定|规则|细则)(?:（试行）|（暂行）)?$", title)
        and re.search(r"部|委员会|总局|银行|署", issuer)
    ):
        return DEPARTMENTAL_RULE
    if issuer or number:
        return NORMATIVE
    return NEWS if has_source_url or not title else None


def infer(document) -> Authority:
    """What a `qa.documents.Document` says of its own authority (front matter wins)."""
    front = document.extra or {}
    from qa.documents import parse_date

    text = document.text
    effective = parse_date(front.get("effective") or front.get("effective_date"))
    if effective is None:
        match = _EFFECTIVE.search(text)
        if match:
            effective = parse_date("-".join(match.groups()))
        elif _FROM_PUBLICATION.search(text):
            effective = document.date
    status = str(front.get("status") or "").strip()
    level = infer_level(document.title, document.issuer, document.doc_number,
                        bool(document.source and document.source.startswith("http")),
                        front.get("level"))  # fmt: skip
    if level is None and not document.issuer:
        level = NEWS
    repeals = tuple(dict.fromkeys(m.group(1) for m in _REPEALS.finditer(text)))
    return Authority(
        level=level,
        status=status if status in STATUSES else IN_FORCE,
        effective=effective,
        supersedes=_listed(front.get("supersedes")),
        superseded_by=_listed(front.get("superseded_by")),
        repeals=repeals,
    )


def _listed(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def title_key(title: str) -> str:
    """固定资产投资项目节能审查办法（试行） and 固定资产投资项目节能审查办法 name one rule."""
    return _TITLE_SUFFIX.sub("", re.sub(r"\s+", "", title or ""))


def resolve(documents: Mapping[str, tuple[str, Authority]]) -> dict[str, Authority]:
    """{doc_id: (title, Authority)} → {doc_id: Authority} with the library's relations joined:
    a document that another in-force document repeals (by title) or supersedes (by id) is
    已废止 and names its successor."""
    by_title: dict[str, list[str]] = {}
    for doc_id, (title, _) in documents.items():
        by_title.setdefault(title_key(title), []).append(doc_id)
    successors: dict[str, list[str]] = {}
    predecessors: dict[str, list[str]] = {}
    for doc_id, (_, authority) in documents.items():
        targets = [t for t in authority.supersedes if t in documents]
        for title in authority.repeals:
            targets += by_title.get(title_key(title), [])
        for target in dict.fromkeys(targets):
            if target != doc_id:
                successors.setdefault(target, []).append(doc_id)
                predecessors.setdefault(doc_id, []).append(target)
    for doc_id, (_, authority) in documents.items():
        for successor in authority.superseded_by:
            if successor in documents and successor != doc_id:
                successors.setdefault(doc_id, []).append(successor)
                predecessors.setdefault(successor, []).append(doc_id)
    resolved = {}
    for doc_id, (_, authority) in documents.items():
        later = tuple(dict.fromkeys([*authority.superseded_by, *successors.get(doc_id, [])]))
        earlier = tuple(dict.fromkeys([*authority.supersedes, *predecessors.get(doc_id, [])]))
        status = (
            REPEALED
            if successors.get(doc_id) and authority.status == IN_FORCE
            else authority.status
        )
        resolved[doc_id] = Authority(authority.level, status, authority.effective, earlier, later,
                                     authority.repeals)  # fmt: skip
    return resolved


def governing_key(authority: Authority | None, date: str | None) -> tuple:
    """Sort key, smallest first: in force, then the higher level, then the newer rule."""
    authority = authority or Authority()
    when = re.sub(r"\D", "", authority.effective or date or "") or "0"
    return (not authority.in_force, -authority.rank, -int(when))
