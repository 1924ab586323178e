"""Optional LLM answers over an OpenAI-compatible /chat/completions endpoint (standard library only).

Set QA_LLM_BASE_URL (e.g. http://localhost:11434/v1 for Ollama), QA_LLM_MODEL and, if the
server wants one, QA_LLM_API_KEY; QA_LLM_TIMEOUT is in seconds (default 30). The model writes
from the numbered passages with [n] markers. Its answer is checked: markers must point to
given passages, and a sentence that its cited passage doesn't support is flagged. On an
error, a timeout or unusable output, the extractive answer is used with a short notice.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from qa.quotes import NOT_FOUND, Answer, Citation, emit_events
from qa.search import Passage
from qa.text import normalize

log = logging.getLogger(__name__)

MIN_SUPPORT = 0.35  # share of a sentence's character bigrams found in its cited passage
MIN_SUPPORT_COSINE = 0.85  # cross-language sentences (English answer, Chinese passage)
MAX_PASSAGE_CHARS = 600
NOT_FOUND_REPLY = "资料中没有找到相关内容"

SYSTEM_PROMPT = (
    "你是政策文件问答助手。只根据用户给出的编号段落回答，不要使用段落以外的知识。"
    "每句话末尾用[n]标注所依据的段落编号，n必须是给出的段落编号之一。"
    "回答简洁：不超过三句话、约200字，尽量沿用原文措辞。用提问所用的语言回答。"
    f"如果段落中没有答案，只回答：{NOT_FOUND_REPLY}。"
)


class LLMError(Exception):
    """The endpoint failed, timed out or answered with something unusable."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 30.0  # per socket operation and for the whole answer
    max_tokens: int = 512
    temperature: float = 0.1

    @classmethod
    def from_env(cls) -> LLMConfig | None:
        """The configuration from QA_LLM_* variables, or None when QA_LLM_BASE_URL is unset."""
        base_url = os.environ.get("QA_LLM_BASE_URL", "").strip()
        if not base_url:
            return None
        try:
            timeout = float(os.environ.get("QA_LLM_TIMEOUT") or 30)
        except ValueError:
            timeout = 30.0
        return cls(base_url=base_url, model=os.environ.get("QA_LLM_MODEL", "").strip() or "default",
                   api_key=os.environ.get("QA_LLM_API_KEY") or None, timeout=timeout)  # fmt: skip

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def _opener(url: str) -> urllib.request.OpenerDirector:
    # A local model server must not be sent through the proxy that reaches the internet.
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return urllib.request.build_opener(urllib.request.ProxyHandler({} if loopback else None))


def chat(config: LLMConfig, messages: list[dict], *, stream: bool = True) -> Iterator[str]:
    """Content deltas of a chat completion; a non-streaming reply comes as one delta."""
    body = {"model": config.model, "messages": messages, "stream": stream,
            "temperature": config.temperature, "max_tokens": config.max_tokens}  # fmt: skip
    headers = {"Content-Type": "application/json",
               "Accept": "text/event-stream" if stream else "application/json"}  # fmt: skip
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    request = urllib.request.Request(config.endpoint, json.dumps(body).encode(), headers)
    deadline = time.monotonic() + config.timeout
    try:
        with _opener(config.endpoint).open(request, timeout=config.timeout) as response:
            if "text/event-stream" not in response.headers.get("Content-Type", ""):
                yield _message(_json(response.read()))
                return
            for raw in response:
                if time.monotonic() > deadline:
                    raise LLMError(f"no complete answer within {config.timeout:g} s")
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue  # SSE comments, event names, keep-alives
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                event = _json(data.encode())
                if "error" in event:
                    raise LLMError(f"server error: {str(event['error'])[:200]}")
                delta = ((event.get("choices") or [{}])[0].get("delta") or {}).get("content")
                if delta:
                    yield delta
    except urllib.error.HTTPError as error:
        detail = error.read()[:200].decode("utf-8", "replace")
        raise LLMError(f"HTTP {error.code} from {config.endpoint}: {detail}") from None
    except TimeoutError:
        raise LLMError(f"no answer within {config.timeout:g} s") from None
    except (urllib.error.URLError, OSError) as error:
        raise LLMError(f"cannot reach {config.endpoint}: {error}") from None


def _json(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        raise LLMError(f"not JSON: {data[:120]!r}") from None
    if not isinstance(value, dict):
        raise LLMError(f"unexpected reply: {data[:120]!r}")
    return value


def _message(reply: dict) -> str:
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMError(f"no message in reply: {str(reply)[:200]}") from None
    return content if isinstance(content, str) else ""


def build_messages(question: str, query: str, passages: Sequence[Passage]) -> list[dict]:
    blocks = [
        f"[{n}] {p.citation}\n{p.text[:MAX_PASSAGE_CHARS]}" for n, p in enumerate(passages, 1)
    ]
    asked = question if query == question.strip() else f"{question}（结合上文：{query}）"
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "段落：\n\n" + "\n\n".join(blocks) + f"\n\n问题：{asked}"}]  # fmt: skip


_MARKER = re.compile(r"[\[［【]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]］】]")
_PARTIAL = re.compile(r"[\[［【][\d\s,，、]*$")


class MarkerRewriter:
    """Renumbers [k] markers by first use while text streams; drops markers of no passage."""

    def __init__(self, passages: int) -> None:
        self.passages = passages
        self.numbers: dict[int, int] = {}  # passage number given to the model → marker shown
        self.invalid = 0
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        partial = _PARTIAL.search(text)
        # A marker may arrive split over deltas: hold back a tail that could still become one.
        if partial and len(text) - partial.start() < 24:
            text, self._pending = text[: partial.start()], text[partial.start() :]
        else:
            self._pending = ""
        return _MARKER.sub(self._replace, text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return _MARKER.sub(self._replace, text)

    def _replace(self, match: re.Match) -> str:
        out = []
        for number in map(int, re.findall(r"\d+", match.group(1))):
            if 1 <= number <= self.passages:
                shown = self.numbers.setdefault(number, len(self.numbers) + 1)
                out.append(f"[{shown}]")
            else:
                self.invalid += 1
        return "".join(dict.fromkeys(out))


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\W+", "", normalize(text))
    return {text[i : i + 2] for i in range(len(text) - 1)}


def support(sentence: str, passage_text: str) -> float:
    """Share of the sentence's character bigrams that occur in the passage."""
    grams = _bigrams(sentence)
    return len(grams & _bigrams(passage_text)) / len(grams) if grams else 1.0


_SENTENCE = re.compile(r"[^。！？!?；;\n]*?(?:[。！？!?；;]+|\.(?=\s|$)|\n|$)(?:\s*\[\d+\])*")


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer, each keeping the markers that follow its full stop."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip() and re.search(r"\w", s)]


@dataclass(frozen=True)
class Checked:
    citations: dict[int, list[tuple[int, int]]]  # marker → supporting sentence spans
    unsupported: tuple[str, ...]
    cited_sentences: int


def check(text: str, passages: Sequence[Passage], numbers: dict[int, int],
          similarity: Callable[[str, str], float] | None = None) -> Checked:  # fmt: skip
    """Which sentences their cited passages support, and the span that supports each."""
    from qa.text import sentence_spans

    by_marker = {shown: passages[given - 1] for given, shown in numbers.items()}
    spans: dict[int, list[tuple[int, int]]] = {n: [] for n in by_marker}
    unsupported, cited = [], 0
    for sentence in split_sentences(text):
        markers = [int(m) for m in re.findall(r"\[(\d+)\]", sentence)]
        bare = re.sub(r"\[\d+\]", "", sentence).strip()
        if not markers:
            if len(_bigrams(bare)) >= 6 and NOT_FOUND_REPLY not in bare:
                unsupported.append(bare)  # a claim with no source
            continue
        cited += 1
        backed = False
        for n in dict.fromkeys(markers):
            passage = by_marker.get(n)
            if passage is None:
                continue
            parts = sentence_spans(passage.text) or [(0, len(passage.text))]
            best = max(parts, key=lambda s: support(bare, passage.text[s[0] : s[1]]))
            ok = support(bare, passage.text) >= MIN_SUPPORT or (
                similarity is not None
                and not re.search(r"[\u3400-\u9fff]", bare)
                and similarity(bare, passage.text) >= MIN_SUPPORT_COSINE
            )
            backed = backed or ok
            if best not in spans[n]:
                spans[n].append(best)
        if not backed:
            unsupported.append(bare)
    return Checked({n: sorted(s) for n, s in spans.items()}, tuple(unsupported), cited)


def stream_llm_answer(config: LLMConfig, question: str, query: str, passages: Sequence[Passage],
                      fallback, similarity: Callable[[str, str], float] | None = None) -> Iterator:  # fmt: skip
    """Deltas of the LLM answer, then the checked `Answer`, or `fallback` with a notice."""

    rewriter = MarkerRewriter(len(passages))
    parts: list[str] = []
    streamed = False
    try:
        for delta in chat(config, build_messages(question, query, passages)):
            shown = rewriter.feed(delta)
            if shown:
                parts.append(shown)
                streamed = True
                yield shown
        tail = rewriter.flush()
        if tail:
            parts.append(tail)
            yield tail
        text = "".join(parts).strip()
        if NOT_FOUND_REPLY in text and not rewriter.numbers:
            yield Answer(question=question, text=NOT_FOUND, citations=(), found=False,
                         query=query, related=tuple(passages[:3]), mode="llm")  # fmt: skip
            return
        if not text or not rewriter.numbers:
            raise LLMError("the answer cites no given passage")
        checked = check(text, passages, rewriter.numbers, similarity)
        if len(checked.unsupported) * 2 > max(checked.cited_sentences, 1):
            raise LLMError("most sentences are not supported by the passages they cite")
    except LLMError as error:
        log.warning("LLM answer replaced by quotes: %s", error)
        fallback = replace(fallback, notice=f"大模型回答不可用（{error}），以下为原文摘录。")
        if streamed:
            yield fallback  # the final text replaces what was shown; no more deltas to append
        else:
            yield from emit_events(fallback)
        return
    order = sorted(rewriter.numbers.items(), key=lambda item: item[1])
    citations = tuple(Citation(shown, passages[given - 1], tuple(checked.citations[shown]))
                      for given, shown in order)  # fmt: skip
    notices = []
    if rewriter.invalid:
        notices.append(f"已删除{rewriter.invalid}个指向不存在段落的引用标记。")
    if checked.unsupported:
        notices.append("部分句子在所引段落中找不到依据，请核对原文。")
    yield Answer(question=question, text=text, citations=citations, found=True, query=query,
                 notice="".join(notices) or None, mode="llm", unsupported=checked.unsupported)  # fmt: skip
