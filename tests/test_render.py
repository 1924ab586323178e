"""HTML of answers and source cards: markers link to cards, quotes are marked, nothing is live."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import pytest

from qa.answer import Answer, Citation
from qa.render import answer_html, ask_payload, escape, safe_url, sources_html
from qa.search import Passage
from qa.webapp import safe_upload_name

HOSTILE = (
    "<img src=x onerror=alert(1)> <script>alert(2)</script> <iframe srcdoc='<b>x</b>'></iframe> "
    "[x](javascript:alert(3)) **bold**"
)


class Tags(HTMLParser):
    """Every tag and attribute a browser would build from the HTML."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def passage(text: str, **fields) -> Passage:
    defaults = dict(doc_id="a.md", title="碳市场说明", source="https://example.gov.cn/a.html",
                    date="2024-02-04", paragraph=3, score=1.0, issuer="生态环境部")  # fmt: skip
    return Passage(text=text, **{**defaults, **fields})


def sample_answer(text: str = "未按时清缴的，处以罚款。") -> Answer:
    p = passage(f"重点排放单位应当清缴配额。{text}")
    start = p.text.index(text)
    return Answer(question="会怎么处罚？", text=f"{text}[1]", query="碳市场 会怎么处罚？",
                  citations=(Citation(1, p, ((start, start + len(text)),)),), found=True)  # fmt: skip


def test_escape_leaves_no_tags_and_no_markdown():
    out = escape(HOSTILE)
    assert "<" not in out and ">" not in out
    assert "[" not in out and "](" not in out and "**" not in out
    assert "javascript&#58;" in out  # still readable, never a link


def test_marker_links_to_its_card_and_card_marks_the_quote():
    result = sample_answer()
    bubble = answer_html(result, turn=4)
    assert re.search(
        r'<a class="qa-cite" href="#src-4-1" title="[^"]*碳市场说明[^"]*">\[1\]</a>', bubble
    )
    assert "检索：碳市场 会怎么处罚？" in bubble  # the follow-up's resolved query is shown
    cards = htmllib.unescape(sources_html(result, turn=4))
    assert 'id="src-4-1"' in cards
    assert "<mark>未按时清缴的，处以罚款。</mark>" in cards
    assert "2024-02-04" in cards and "第3段" in cards and "生态环境部" in cards
    assert 'href="https://example.gov.cn/a.html"' in cards


def test_hostile_article_text_and_title_render_inert():
    result = sample_answer(HOSTILE)
    result = Answer(**{**result.__dict__, "citations": tuple(
        Citation(c.n, passage(c.passage.text, title=HOSTILE, source="javascript:alert(4)"), c.spans)
        for c in result.citations)})  # fmt: skip
    markup = answer_html(result, 0) + sources_html(result, 0)
    tags = Tags(markup).tags
    assert {tag for tag, _ in tags} <= {"div", "a", "span", "mark", "h3", "br", "p"}
    for _, attrs in tags:
        assert not any(name.startswith("on") or name == "srcdoc" for name in attrs)
        assert not attrs.get("href", "#").lower().startswith(("javascript", "data"))
    assert "alert(2)" in htmllib.unescape(markup)  # shown as text, not dropped


def test_no_answer_shows_related_reading_without_markers():
    related = (passage("碳排放配额分配以免费分配为主。"),)
    result = Answer(question="个税怎么算？", text="资料中没有找到相关内容。", citations=(),
                    found=False, query="个税怎么算？", related=related)  # fmt: skip
    assert "qa-cite" not in answer_html(result, 0)
    cards = sources_html(result, 0)
    assert "相关阅读" in cards and "免费分配" in cards and "id=" not in cards


def test_english_labels():
    cards = sources_html(sample_answer(), 0, lang="en")
    assert "Sources" in cards and "paragraph 3" in cards


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://www.mee.gov.cn/x.html", True),
        ("http://a.cn", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("新浪财经", False),
        (None, False),
    ],
)
def test_only_http_sources_become_links(url, safe):
    assert (safe_url(url) is not None) is safe


def test_ask_payload_shape():
    payload = ask_payload(sample_answer())
    assert set(payload) >= {"answer", "found", "query", "citations"}
    citation = payload["citations"][0]
    assert {"n", "title", "date", "paragraph", "text", "source"} <= set(citation)
    assert citation["quotes"][0] in citation["text"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x.html", "x.html"),
        ("..\\..\\evil.md", "evil.md"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("碳市场 通知 (1).PDF", "碳市场_通知_1.pdf"),
        (".hidden.docx", "hidden.docx"),
    ],
)
def test_upload_names_are_never_paths(name, expected):
    assert safe_upload_name(name) == expected


@pytest.mark.parametrize("name", ["x.svg", "x.exe", "x.html.sh", "noext"])
def test_unsupported_upload_types_are_refused(name):
    with pytest.raises(ValueError, match="unsupported type"):
        safe_upload_name(name)
