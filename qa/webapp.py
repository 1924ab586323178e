"""The Gradio chat. Kept apart from app.py so tests can build the UI without serving it."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from qa.search import Index, Passage

log = logging.getLogger(__name__)

EXAMPLES = [
    "中国控制甲烷排放有哪些安排？",
    "中美联合宣言提出要建立什么工作组？",
    "What will China do about methane emissions?",
]


def render_passages(passages: list[Passage]) -> str:
    """Markdown for a list of passages; article text is escaped so it can never become markup."""
    if not passages:
        return "资料中没有找到相关内容。"
    lines = []
    for rank, passage in enumerate(passages, 1):
        title = html.escape(passage.title)
        date = f" · {passage.date}" if passage.date else ""
        lines.append(f"**[{rank}] 《{title}》{date} · 第{passage.paragraphs}段**\n")
        lines.append(f"> {html.escape(passage.text)}\n")
    return "\n".join(lines)


def create_app(index: Index):
    import gradio as gr

    def respond(message: str, history: list) -> str:
        try:
            return render_passages(index.search(message, k=5))
        except Exception:
            log.exception("search failed")
            return "出错了，请稍后再试。"

    return gr.ChatInterface(
        respond,
        title="政策问答 · Policy QA",
        description="就中国气候与碳市场政策提问，回答引用原文段落（文件、日期、段落号）。",
        examples=EXAMPLES,
        api_name="ask",
    )


def serve(index_dir: Path | None, host: str, port: int) -> None:
    index = Index(index_dir)
    app = create_app(index)
    app.queue(max_size=64, default_concurrency_limit=2)
    app.launch(server_name=host, server_port=port, show_error=False,
               blocked_paths=[str(index.index_dir)])  # fmt: skip
