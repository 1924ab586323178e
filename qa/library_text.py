"""The Library's words: one line per added file (added / updated / unchanged / refused, with the
reason in the UI language) and the checks on the metadata a user may set on an upload."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.authority import LEVELS, STATUSES
from qa.documents import parse_date

STATUS_TEXT = {
    "zh": {"added": "已添加", "updated": "已更新", "unchanged": "未变（已在资料库中）",
           "refused": "未添加"},
    "en": {"added": "added", "updated": "updated", "unchanged": "unchanged (already in the library)",
           "refused": "refused"},
}  # fmt: skip

# The build's warning (an IngestError's problem) → a reason the user can act on.
REASONS = {
    "not_pdf": ("不是真正的 PDF 文件（已损坏或是其他格式）", "not really a PDF (damaged or another format)"),
    "scanned": ("扫描版 PDF，没有文字层（不支持 OCR）", "a scanned PDF with no text (OCR is not supported)"),
    "empty": ("文件中没有正文段落", "empty: no paragraphs with text"),
    "encoding": ("无法识别的文字编码：请另存为 UTF-8", "unsupported encoding; save it as UTF-8"),
    "not_docx": ("不是有效的 Word (.docx) 文件", "not a readable Word (.docx) file"),
    "front_matter": ("文件开头的 YAML 元数据有误", "the YAML front matter at the top is invalid"),
    "too_large": ("文件太大或内容过多", "too large or too much text"),
    "duplicate": ("与《{title}》内容相同", "duplicate of 《{title}》"),
    "other": ("无法读取此文件", "could not be read"),
}  # fmt: skip
_PATTERNS = [
    ("not_pdf", r"not a readable PDF|damaged PDF"), ("scanned", r"no text layer"),
    ("empty", r"no paragraphs with text"), ("encoding", r"cannot be decoded|binary file"),
    ("not_docx", r"\.docx"), ("front_matter", r"front matter"),
    ("too_large", r"larger than|more than [\d,]+ characters|over the limit"),
    ("duplicate", r"same text as"),
]  # fmt: skip


@dataclass
class FileResult:
    """What became of one added file; `reason`/`title` only for a refusal."""

    name: str
    status: str  # added | updated | unchanged | refused
    reason: str = ""
    title: str = ""

    def text(self, lang: str) -> str:
        zh = lang == "zh"
        line = f"{self.name}{'：' if zh else ': '}{STATUS_TEXT['zh' if zh else 'en'][self.status]}"
        if self.reason:
            why = REASONS[self.reason][0 if zh else 1].format(title=self.title)
            line += f"（{why}）" if zh else f" ({why})"
        return line


def reason_of(warning: str) -> str:
    """The REASONS key for a build warning about a file."""
    return next((key for key, pattern in _PATTERNS if re.search(pattern, warning)), "other")


def results_text(summary: str, results: list[FileResult], lang: str) -> str:
    """The status shown after an upload: one line per file, then the build's summary."""
    lines = [f"- {result.text(lang)}" for result in results]
    return "\n".join([*lines, "", summary] if summary else lines)


# Metadata a user may set on an uploaded document (front matter fields).
META_FIELDS = ("title", "date", "issuer", "doc_number", "level", "status")
MAX_META_CHARS = 300


def check_metadata(fields: dict) -> dict:
    """The non-empty fields, checked; ValueError naming the field and the allowed values."""
    checked = {}
    for key, value in fields.items():
        if key not in META_FIELDS:
            raise ValueError(f"{key}: not a metadata field; use one of {', '.join(META_FIELDS)}")
        value = "" if value is None else str(value).strip()
        if not value:
            continue
        if len(value) > MAX_META_CHARS or "\n" in value:
            raise ValueError(f"{key}: one line of at most {MAX_META_CHARS} characters, please")
        if key == "date":
            value = parse_date(value)
            if value is None:
                raise ValueError(f"date {fields[key]!r} is not a date; write it as 2024-01-31")
        if key == "level" and value not in LEVELS:
            raise ValueError(f"level {value!r} is unknown; use one of {'、'.join(LEVELS)}")
        if key == "status" and value not in STATUSES:
            raise ValueError(f"status {value!r} is unknown; use one of {'、'.join(STATUSES)}")
        checked[key] = value
    return checked
