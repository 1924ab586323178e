"""Provisions that send the reader to another for their consequence (项目已开工建设的，按本办法第
二十四条有关规定进行处罚): the cited article is quoted after the one citing it, as a reader turns
to it. Between qa.sentences, which chooses the quotes, and qa.answer, which says them."""

from __future__ import annotations

import re

from qa.search import Index, Passage
from qa.sentences import Sentence
from qa.structure import NUMERAL, normalize_article

# 按本办法第二十四条有关规定进行处罚, 依照本条例第二十二条的规定处罚
_CITES = re.compile(
    rf"(?:按|按照|依照|依据)本(?:办法|条例|法|规定)(第{NUMERAL}条)(?:有关|的)?规定"
    r"(?:进行|予以|给予)?(?:处罚|处理)"
)
MAX_CITED = 2  # articles followed from one answer


def with_cited_articles(index: Index, passages: list[Passage],
                        picked: list[Sentence]) -> tuple[list[Passage], list[Sentence]]:  # fmt: skip
    """The passages and quotes, with the first paragraph of each article a quote cites for its
    penalty, unless it is quoted already."""
    quoted = {(passages[s.rank].doc_id, _article(passages[s.rank])) for s in picked}
    added: list[Sentence] = []
    for sentence in picked:
        doc_id = passages[sentence.rank].doc_id
        for match in _CITES.finditer(sentence.text):
            article = normalize_article(match.group(1))
            if len(added) >= MAX_CITED or article is None or (doc_id, article) in quoted:
                continue
            provision = index.provision(doc_id, article)
            if not provision:
                continue
            quoted.add((doc_id, article))
            passages = [*passages, provision[0]]
            text = provision[0].text
            added.append(Sentence(len(passages) - 1, 0, len(text), text))
    return passages, [*picked, *added]


def _article(passage: Passage) -> str | None:
    return passage.locator.article if passage.locator else None
