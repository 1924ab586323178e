"""Which of a question's words the texts must hold, on a tiny corpus and the fake embedder."""

from __future__ import annotations

from test_trust import small_library


def test_an_everyday_word_is_known_where_the_rules_formal_word_is(
    tmp_path, fake_embedder, monkeypatch
):
    from qa.evidence import evidence_terms
    from qa.text import tokenize

    law = "---\ntitle: 大气污染防治法\n---\n\n第三十六条　加强民用散煤的管理，鼓励居民燃用优质煤炭。\n"
    library = small_library(tmp_path, fake_embedder, monkeypatch, {"law.md": law})
    question = "老百姓家里烧散煤，法律上怎么管？"
    _, unknown = evidence_terms(library, question, tokenize(question), [])
    assert "老百姓" not in unknown  # said 居民 by the law
    other = "外国人家里烧散煤，法律上怎么管？"
    assert "外国人" in evidence_terms(library, other, tokenize(other), [])[1]
