"""Text primitives shared by the index and query sides: normalisation, tokens, sentences.

Matching always goes through `normalize` so that full-width forms, compatibility
characters, traditional characters and case never make the index and a query disagree. Display text is never
normalised: citations quote the document as written.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Sentence ends in Chinese and Western prose; closing quotes and brackets stay with the sentence.
_SENTENCE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』）)\"']*|\n|$)")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_WORDLIKE = re.compile(r"\w", re.UNICODE)

MAX_QUERY_CHARS = 512

# Function words and question words: they say nothing about which paragraph answers.
_STOPWORD_TEXT = """
的 了 是 在 和 与 及 或 等 对 把 被 将 就 也 都 而 并 其 之 以 为 于 由 从 向 到 给 让 这 那 这些 那些 这个 那个
我 我们 你 你们 他 他们 它 它们 哪 哪些 哪个 什么 多少 几 何时 什么时候 谁 为什么 为何 如何 怎么 怎样 怎么样
吗 呢 吧 啊 呀 么 有 有没有 是否 是不是 会 要 能 可以 应该 请问 一下 关于 方面 哪里 哪儿 如果 中 上 下
the a an of to in on for and or is are was were be by with what which who when how why does do did
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@lru_cache(maxsize=1)
def _to_simplified():
    import opencc

    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Matching form: NFKC (full-width → ASCII, compatibility ideographs → unified), casefold,
    and traditional → simplified characters, so 碳排放權交易 matches 碳排放权交易."""
    return _to_simplified().convert(unicodedata.normalize("NFKC", text).casefold())


def for_embedding(text: str) -> str:
    """What the model reads: NFKC and simplified characters, but case kept (GB, CO2, EU ETS)."""
    return _to_simplified().convert(unicodedata.normalize("NFKC", text))


def has_substance(text: str) -> bool:
    """True when the text holds at least one letter, digit or CJK character."""
    return bool(_WORDLIKE.search(text))


def is_cjk(char: str) -> bool:
    return bool(_CJK.match(char))


def has_cjk(text: str) -> bool:
    """True when the text holds a Chinese character (an English question holds none)."""
    return bool(re.search(r"[\u3400-\u9fff]", text))


def is_english(text: str) -> bool:
    """True for a question written in English, though it may name a Chinese term or title in
    Chinese (Does the 双碳 opinion say…?); 条例里 MRV 是怎么要求的 is Chinese."""
    if not has_cjk(text):
        return True
    latin = len(re.findall(r"[A-Za-z]{2,}", text))
    return latin >= 3 and len(re.findall(r"[\u3400-\u9fff]", text)) <= 2 * latin


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text`, without surrounding whitespace."""
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start and has_substance(text[start:end]):
            spans.append((start, end))
    return spans


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def warm_up() -> None:
    """Load jieba's dictionary now rather than on the first query."""
    _jieba()


def in_dictionary(word: str) -> bool:
    """True when jieba's dictionary holds the word (对冲), not only its HMM's guess (按碳)."""
    return _jieba().dt.FREQ.get(word, 0) > 0


def tokenize(text: str) -> list[str]:
    """Lexical terms of `text`: jieba search-mode words of the normalised text, minus stopwords."""
    terms = []
    for word in _jieba().cut_for_search(normalize(text)):
        word = word.strip()
        if word and word not in STOPWORDS and has_substance(word):
            terms.append(word)
    return terms


_NOUN_TAGS = ("n", "vn", "l", "j", "eng")  # nouns (n, nr, ns, nt, nz…), verbal nouns, idioms


def nouns(text: str) -> set[str]:
    """The words jieba tags as nouns in `text` (海南省, 别名; not 用于, 建造), normalised."""
    import jieba.posseg

    _jieba()
    return {normalize(w.word) for w in jieba.posseg.cut(text) if w.flag.startswith(_NOUN_TAGS)}


def embedding_input(title: str, heading: str | None, text: str) -> str:
    """What the model and the lexical index see: the paragraph in its document context."""
    return "\n".join(part for part in (title, heading, text) if part)
