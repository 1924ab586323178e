"""Questions that ask two things (核查要确认什么？这个结果拿来干什么？; 设立了哪些机构，又规定了
哪些技术规范？), answered part by part.

Each part is asked with what comes before it, as a follow-up is with its earlier turns: 这个结果
拿来干什么 is about the 核查 of the part before. Between qa.sentences, which chooses among
candidates, and qa.answer, which says which ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.search import Passage
from qa.sentences import Sentence

# What makes a clause a question: an asking word, or a yes-no ending (…吗, 能不能, 是否).
_ASKS = re.compile(
    r"多少|哪|什么|谁|几|何时|多久|如何|怎么|怎样|为何|吗|呢|是否|能否|可否|"
    r"能不能|可不可以|有没有|是不是|会不会|要不要"
)
# Where a second question starts: after a question mark with more to come, or after a comma
# that joins another question to the first (，又规定了哪些…; ，还要…吗).
_PART_END = re.compile(r"[？?](?=\s*\S)|[，,](?=(?:又|还|并且?|以及|另外|同时)[^，,。？?]*?(?:"
                       + _ASKS.pattern + "))"
                       # …or that opens with its asking word: 哪些煤是限制开采的，哪些是禁止开采的
                       + r"|[，,](?=(?:那|那么)?(?:哪些|哪几|哪个|什么|多少|谁|何时|怎么|如何))")  # fmt: skip

# Searches for a part as asked so far; chooses the quotes for it among the passages found.
Search = Callable[[str], list[Passage]]
Select = Callable[[list[Passage], str, str], list[Sentence]]


def question_parts(question: str) -> list[tuple[str, str]]:
    """(the question up to and with the part, the part) for each part that asks something, when
    two or more do; else []. 我们集团总部在上海，电厂在内蒙古，…该报给哪个省？ is one question."""
    ends = [m.start() for m in _PART_END.finditer(question)] + [len(question)]
    parts, start = [], 0
    for end in ends:
        part = question[start:end].strip("，,？? ")
        if part:
            parts.append((question[:end], part))
        start = end + 1
    asking = [(upto, part) for upto, part in parts if _ASKS.search(part)]
    return asking if len(asking) >= 2 else []


def asking_sentences(question: str) -> str:
    """The sentences of the question that ask something, without those that set the scene
    (县里一个项目没按节能审查意见建，群众想反映。…归哪个部门管？ asks about 节能审查's 监督, not
    about 群众); the whole question when none or all set it."""
    sentences = [s for s in re.split(r"(?<=[。！!；;])", question) if s.strip()]
    asking = [s for s in sentences if _ASKS.search(s)]
    return "".join(asking) if asking and len(asking) < len(sentences) else question


# A clause of the asker's own situation (集团战略部在做“十四五”碳规划, 现在快投产了): who asks
# and when, no thing the rule is asked about.
_SCENE = re.compile(r"我们|我司|我厂|我方|集团|客户|现在|目前|眼下|快要?|正在|在做|打算|准备")


def without_scene(question: str) -> str:
    """The question without the clauses that only tell the asker's situation: those that ask
    nothing and say who asks or when (我们的项目…是国家发改委做的，现在快投产了，…归哪个部门管？
    asks of 验收, not of 投产); the whole question when every clause would go."""
    clauses = re.split(r"(?<=[，,。！!；;？?])", question)
    kept = [c for c in clauses if _ASKS.search(c) or not _SCENE.search(c)]
    return "".join(kept) if any(_ASKS.search(c) for c in kept) else question


def with_each_part(passages: list[Passage], picked: list[Sentence], question: str,
                   search: Search, select: Select) -> tuple[list[Passage], list[Sentence]]:  # fmt: skip
    """The passages and quotes that answer each part, in the parts' order.

    A part before the last is searched as asked up to it (核证自愿减排量交易的结算服务是哪个机构
    提供的), whose passages the whole question may not find; what `select` finds best for it,
    with what completes it in its paragraph, leads unless `picked` (the whole question's quotes)
    holds it. The last part is searched with the scene the question sets, and what `select`
    finds for it follows `picked` unless `picked` holds it. A question that asks one thing gets
    `passages` and `picked` back as they are."""
    parts = question_parts(question)
    quoted: list[Sentence] = []
    # The last part is asked with the scene the question sets (我们是燃煤电厂，…配额又得在哪天前
    # 清缴完), not with the parts before it, which the whole question's quotes favour.
    scene = [c for c in re.split(r"[，,。？?；;]", question) if c.strip() and not _ASKS.search(c)]
    last = "，".join([*scene, parts[-1][1]]) if parts else ""
    asked = [*parts[:-1], (last, parts[-1][1])] if parts else []
    for n, (upto, part) in enumerate(asked, 1):
        held = {p.passage_id for p in passages}
        passages = passages + [p for p in search(upto) if p.passage_id not in held]
        chosen = select(passages, upto, part)
        taken = {(s.rank, s.start) for s in [*quoted, *picked]}
        if not chosen or (chosen[0].rank, chosen[0].start) in taken:
            continue  # the part is answered by a quote already there
        new = [s for s in chosen if s.rank == chosen[0].rank and (s.rank, s.start) not in taken]
        if n == len(asked):  # the last part's quote follows the whole question's
            picked = picked + new
        else:
            quoted += new
    return passages, quoted + picked
