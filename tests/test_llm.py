"""The optional LLM, against a real local HTTP server speaking OpenAI chat completions."""

from __future__ import annotations

import importlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa import Answer, Index, answer, build_index, stream_answer
from qa.llm import MarkerRewriter, split_sentences, support


class ChatServer:
    """POST /v1/chat/completions; what it answers is set per test."""

    def __init__(self) -> None:
        self.reply = ""
        self.stream = True
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    self.send_error(404)
                    return
                time.sleep(server.delay)
                if server.status != 200:
                    self.send_response(server.status)
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "model overloaded"}}')
                    return
                if server.stream and body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    # Tokens of a few characters, as real servers send; markers get split.
                    for i in range(0, len(server.reply), 3):
                        chunk = {"choices": [{"delta": {"content": server.reply[i : i + 3]}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                reply = {"choices": [{"message": {"role": "assistant", "content": server.reply}}]}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    chat = ChatServer()
    monkeypatch.setenv("QA_LLM_BASE_URL", chat.url)
    monkeypatch.setenv("QA_LLM_MODEL", "qwen-test")
    monkeypatch.setenv("QA_LLM_API_KEY", "sk-test")
    monkeypatch.setenv("QA_LLM_TIMEOUT", "2")
    yield chat
    chat.close()


@pytest.fixture
def index(tiny_corpus, tmp_path, fake_embedder, monkeypatch) -> Index:
    monkeypatch.setattr(importlib.import_module("qa.evidence"), "MIN_DENSE", 0.0)
    build_index([tiny_corpus], tmp_path / "index", embedder=fake_embedder)
    return Index(tmp_path / "index", embedder=fake_embedder)


QUESTION = "未按时足额清缴碳排放配额会受到什么处理？"


def passage_number(server: ChatServer, needle: str) -> int:
    """The number the prompt gave to the passage containing `needle`."""
    prompt = server.requests[-1]["messages"][-1]["content"]
    for block in prompt.split("\n\n["):
        if needle in block:
            return int(block.lstrip("[").split("]")[0])
    raise AssertionError(f"{needle} not in the prompt")


def test_streamed_llm_answer_is_checked_and_cited(server, index):
    # First call finds out which number the prompt gives the fine paragraph.
    server.reply = "资料中没有找到相关内容"
    answer(QUESTION, index=index)
    n = passage_number(server, "处以罚款")
    server.reply = (
        f"未按时足额清缴配额的，由生态环境主管部门责令改正，处以罚款，并核减下一年度配额[{n}]。"
    )
    events = list(stream_answer(QUESTION, index=index))
    result = events[-1]
    assert isinstance(result, Answer)
    assert result.mode == "llm" and result.found
    deltas = [e for e in events[1:-1] if isinstance(e, str)]
    assert len(deltas) > 3  # streamed in pieces, not at the end
    assert "".join(deltas) == result.text
    assert result.text.endswith("[1]。")  # renumbered by first use
    assert result.citations[0].passage.doc_id == "market.md"
    assert result.unsupported == ()
    assert all(q in result.citations[0].passage.text for q in result.citations[0].quotes)
    request = server.requests[-1]
    assert request["model"] == "qwen-test" and request["stream"] is True
    assert server.headers[-1]["Authorization"] == "Bearer sk-test"


def test_marker_to_a_passage_that_was_not_given_is_dropped(server, index):
    server.reply = "资料中没有找到相关内容"
    answer(QUESTION, index=index)
    n = passage_number(server, "处以罚款")
    server.reply = f"未按时足额清缴配额的，处以罚款[{n}][99]。"
    result = answer(QUESTION, index=index)
    assert result.mode == "llm"
    assert "[99]" not in result.text and "[1]" in result.text
    assert "1个指向不存在段落" in result.notice


def test_sentence_its_passage_does_not_support_is_flagged(server, index):
    server.reply = "资料中没有找到相关内容"
    answer(QUESTION, index=index)
    n = passage_number(server, "处以罚款")
    server.reply = (
        f"未按时足额清缴配额的，处以罚款[{n}]。"
        f"此外，企业负责人将被判处三年以上有期徒刑并吊销营业执照[{n}]。"
        f"处罚决定由生态环境主管部门作出，责令改正并核减下一年度配额[{n}]。"
    )
    result = answer(QUESTION, index=index)
    assert result.mode == "llm"
    assert len(result.unsupported) == 1 and "有期徒刑" in result.unsupported[0]
    assert "找不到依据" in result.notice


def test_non_streaming_server_reply_is_used(server, index):
    server.stream = False
    server.reply = "资料中没有找到相关内容"
    answer(QUESTION, index=index)
    n = passage_number(server, "处以罚款")
    server.reply = f"未按时足额清缴配额的，处以罚款[{n}]。"
    result = answer(QUESTION, index=index)
    assert result.mode == "llm" and "[1]" in result.text


def test_llm_that_finds_nothing_declines(server, index):
    server.reply = "资料中没有找到相关内容。"
    result = answer(QUESTION, index=index)
    assert not result.found and result.citations == ()


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda s: setattr(s, "status", 500), "HTTP 500"),
        (lambda s: setattr(s, "delay", 3.0), "2 s"),
        (lambda s: setattr(s, "reply", "配额要按时清缴，否则会被处罚。"), "cites no given passage"),
        (
            lambda s: setattr(s, "reply", "完全无关的内容[1]。还有别的说法[2]。再来一句[1]。"),
            "not supported",
        ),
    ],
    ids=["server-error", "timeout", "no-markers", "unsupported"],
)
def test_failures_fall_back_to_quotes_with_a_notice(server, index, setup, reason):
    setup(server)
    events = list(stream_answer(QUESTION, index=index))
    result = events[-1]
    assert result.mode == "extractive" and result.found
    assert "大模型回答不可用" in result.notice and reason in result.notice
    assert "处以罚款" in result.text
    assert all(q in c.passage.text for c in result.citations for q in c.quotes)


def test_unreachable_server_falls_back(index, monkeypatch):
    monkeypatch.setenv("QA_LLM_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: refused
    result = answer(QUESTION, index=index)
    assert result.mode == "extractive" and "cannot reach" in result.notice


def test_use_llm_false_skips_the_server(server, index):
    result = answer(QUESTION, index=index, use_llm=False)
    assert result.mode == "extractive" and not server.requests


def test_marker_split_across_deltas_is_rewritten_once():
    rewriter = MarkerRewriter(passages=5)
    shown = "".join(rewriter.feed(part) for part in ["甲烷[", "3", "]。碳[", "1][3", "]。"])
    shown += rewriter.flush()
    assert shown == "甲烷[1]。碳[2][1]。"


def test_support_and_sentence_split():
    assert support("处以罚款", "由主管部门责令改正，处以罚款。") == 1.0
    assert support("判处有期徒刑", "由主管部门责令改正，处以罚款。") == 0.0
    assert split_sentences("第一句[1]。第二句。[2] Third one.") == [
        "第一句[1]。",
        "第二句。[2]",
        "Third one.",
    ]
