"""Follow-up questions: join a question that leans on earlier turns with the topic of the chat.

那2030年的目标呢？ after a question about the 碳达峰碳中和意见 is searched as
"碳达峰碳中和意见 2030年的目标"; the resolved query goes back to the caller so a chat can show it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.naming import DATED_KIND
from qa.text import (
    MAX_QUERY_CHARS,
    STOPWORDS,
    has_substance,
    is_cjk,
    is_english,
    normalize,
)

# Terms that say what is asked, not what it is about: a question made only of these needs
# the topic of the conversation.
_GENERIC = frozenset(
    """
处罚 罚款 处理 目标 要求 规定 时间 时候 施行 实施 生效 开始 措施 内容 情况 违反 违规 具体 主要 提出 方面 问题
条件 期限 责任 法律责任 需要 应当 必须 怎么办 意思 含义 作用 影响 办法 程序 流程 做 干 做法 工作 安排 多久
起 达到 文件 多长 是 呢 吗 了 过 还 又 再 那么 那 这 它 其 该 此 上述 前者 后者 年 月 日 目标值 比例 多少 钱 罚 会 被 受到 什么样
what about how it its this that they them those these and
""".split()
)
_ANAPHORA = frozenset(
    "它 它们 他 她 他们 她们 其 该 此 这个 这些 这项 这条 这部 上述 前者 后者".split()
)
_CUE_TOKENS = _ANAPHORA | frozenset("那 那么 还有 另外 呢".split())
# A question that opens on its verb's place or agent, with no subject (要在哪些地方公布？
# 是在哪个会议期间发布的？), asks about what was just discussed.
_NO_SUBJECT = re.compile(
    r"^(?:要在|需要在|应当在|应在|是在|是由|由谁|由哪|向谁|向哪|要向|应向|应当向|还要|还需|还能|还得"
    r"|相关|有关)"
)
_EN_CUE = re.compile(
    r"^(?:and|so|then|what about|how about)\b|\b(?:it|its|this|that|they|them|those)\b", re.I
)
_LEADING_THAT = re.compile(r"^(?:那么|那)(?![个些里边样时天])[，,\s]*")
_TITLE_IN_TEXT = re.compile(r"《([^》]{4,60})》")


@dataclass(frozen=True)
class ResolvedQuery:
    """First event of `stream_answer`: the question as it will be searched."""

    question: str
    query: str
    follow_up: bool


def _turns(history: Sequence | None) -> list[tuple[str, str]]:
    """(user, assistant) pairs from tuple pairs or role/content messages."""
    turns: list[tuple[str, str]] = []
    for item in history or ():
        if isinstance(item, dict):
            content = item.get("content")
            content = content if isinstance(content, str) else ""
            if item.get("role") == "user":
                turns.append((content, ""))
            elif item.get("role") == "assistant" and turns:
                turns[-1] = (turns[-1][0], turns[-1][1] + content)
        elif isinstance(item, (list, tuple)) and item:
            user = item[0] if isinstance(item[0], str) else ""
            reply = item[1] if len(item) > 1 and isinstance(item[1], str) else ""
            turns.append((user, reply))
    return [(u, a) for u, a in turns if u.strip()]


def _words(text: str) -> list[str]:
    from qa.text import warm_up

    warm_up()
    import jieba

    return jieba.lcut(normalize(text))


def _is_topic(word: str) -> bool:
    return has_substance(word) and word not in _GENERIC and not word.isdigit() and (
        len(word) > 1 or not word.isascii()
    ) and word not in STOPWORDS  # fmt: skip


def is_follow_up(question: str) -> bool:
    """Does the question lean on an earlier turn (anaphora, 那…呢, or no topic of its own)?"""
    words = [w for w in _words(question) if w.strip()]
    if is_english(question):
        return bool(_EN_CUE.search(question)) or not any(_is_topic(w) for w in words)
    if any(w in _CUE_TOKENS for w in words) or question.lstrip().startswith("那"):
        return True
    if _NO_SUBJECT.match(question.lstrip()):
        return True
    topic_chars = sum(len(w) for w in words if _is_topic(w))
    return topic_chars < 2


_QUOTED = re.compile(r"[“\"「『][^”\"」』]{2,40}[”\"」』]")


def _topic(query: str, question: str, reply: str) -> str:
    """Key terms of an earlier query, minus what the new question replaces."""
    has_number = bool(re.search(r"\d", question))
    # 那“坚持夯实基础”呢？ after …“坚持统筹协调”是怎么说的？: the quote replaces the quote.
    if _QUOTED.search(question):
        query = _QUOTED.sub(" ", query)
    new = normalize(question)
    words = _words(query)
    keep = [_is_topic(w) and w not in new and not (has_number and re.search(r"\d", w))
            for w in words]  # fmt: skip
    for i in range(1, len(words) - 1):  # 碳达峰碳[中][和]意见: glue words stay in a name
        if not keep[i] and len(words[i]) == 1 and is_cjk(words[i]) and keep[i - 1]:
            j = next((j for j in range(i, min(i + 3, len(words))) if keep[j]), None)
            if j is not None and all(len(w) == 1 and is_cjk(w) for w in words[i:j]):
                keep[i:j] = [True] * (j - i)
    runs, run = [], ""
    for word, kept in zip(words, keep):
        if kept:
            run += word
        elif run:
            runs.append(run)
            run = ""
    runs.append(run)
    topic = " ".join(r for r in runs if r)
    # 2020年那个碳交易管理办法 names one text by its year: the year and kind go with it, or the
    # follow-up's search reads 碳交易管理 of every text.
    if not has_number:
        named = [m.group() for m in DATED_KIND.finditer(query) if m.group() not in topic]
        topic = " ".join([*named, topic]).strip()
    if not topic:  # fall back to the document the previous answer cited
        match = _TITLE_IN_TEXT.search(reply)
        topic = match.group(1) if match else ""
    return topic


def resolve_query(question: str, history: Sequence | None = None) -> ResolvedQuery:
    """The query to search: the question itself, or, for a follow-up, joined with the topic."""
    text = question.strip()[:MAX_QUERY_CHARS]
    previous = None  # resolved query of the previous turn: follow-ups can chain
    for user, reply in _turns(history):
        user = user.strip()[:MAX_QUERY_CHARS]
        previous = (_join(_topic(previous[0], user, previous[1]), user)
                    if previous and is_follow_up(user) else user, reply)  # fmt: skip
    if not previous or not has_substance(text) or not is_follow_up(text):
        return ResolvedQuery(question, text, False)
    topic = _topic(previous[0], text, previous[1])
    if not topic:
        return ResolvedQuery(question, text, False)
    return ResolvedQuery(question, _join(topic, text), True)


def _join(topic: str, question: str) -> str:
    question = _LEADING_THAT.sub("", question.strip()) or question.strip()
    question = re.sub(r"呢(?=[？?。！!\s]*$)", "", question)
    return f"{topic} {question}".strip()[:MAX_QUERY_CHARS] if topic else question


def own_part(question: str, resolved: ResolvedQuery) -> str:
    # A follow-up's own words must still be found: 那个人所得税呢 shouldn't ride on the topic.
    words = _words(question)
    anaphora = any(w in _ANAPHORA for w in words)
    if resolved.follow_up and not anaphora and any(_is_topic(w) for w in words):
        return question
    return resolved.query
