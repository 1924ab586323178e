"""Syndicated stories: the same paragraphs on several portals are stored once and cited with
"also published by"; removing the first portal hands its paragraphs to the next."""

from __future__ import annotations

from pathlib import Path

from qa import Index, build_index

STORY = [
    "生态环境部近日印发工作方案，全国碳市场首次扩大行业覆盖范围，钢铁、水泥、铝冶炼行业纳入管理。",
    "根据工作方案，上述行业将新增纳入重点排放单位约1500家，新增覆盖二氧化碳排放量约30亿吨。",
    "业内人士表示，扩围将进一步发挥碳市场在推动行业绿色低碳转型方面的作用。",
]


def portal(name: str, date: str, paragraphs: list[str], furniture: str) -> str:
    body = "".join(f"<p>　　{p}</p>" for p in paragraphs)
    return (
        f"---\ntitle: 全国碳市场扩围（{name}）\ndate: {date}\nsource: {name}\n---\n"
        f"<div>{body}<p>{furniture}</p><p>责任编辑：{name}编辑部</p></div>"
    )


def write_portals(corpus: Path) -> None:
    corpus.mkdir(exist_ok=True)
    (corpus / "a-portal.html").write_text(
        portal("甲财经", "2025-03-26", STORY, "更多精彩内容请关注甲财经官方网站和移动客户端。"),
        "utf-8",
    )
    # The same story re-posted with other spacing and punctuation, plus its own closing line.
    syndicated = [
        STORY[0].replace("，", ", "),
        STORY[1],
        STORY[2],
        "乙新闻网将持续关注碳市场扩围后的配额分配与交易情况。",
    ]
    (corpus / "b-portal.html").write_text(
        portal("乙新闻", "2025-03-27", syndicated, "本文转载自甲财经，如有侵权请联系删除处理。"),
        "utf-8",
    )


def test_syndicated_paragraphs_are_stored_once(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    write_portals(corpus)
    report = build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    assert report.duplicates == 3
    assert report.summary().endswith("· 3 duplicate paragraphs stored once")
    index = Index(tmp_path / "index", embedder=fake_embedder)
    assert index.size == 6  # a: 3 story + 1 furniture line; b: 1 own line + 1 furniture line
    [hit] = index.search("新增纳入重点排放单位约1500家", k=1)
    assert hit.doc_id == "a-portal.html"
    assert [(r.doc_id, r.source, r.date, r.paragraph) for r in hit.also_published_by] == [
        ("b-portal.html", "乙新闻", "2025-03-27", 2)
    ]
    [own] = index.search("乙新闻网将持续关注配额分配", k=1)
    assert own.doc_id == "b-portal.html" and own.also_published_by == ()


def test_removing_the_first_portal_hands_its_paragraphs_on(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    write_portals(corpus)
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    (corpus / "a-portal.html").unlink()
    fake_embedder.embedded.clear()
    report = build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    assert (report.removed, report.documents, report.embedded) == (1, 1, 0)
    index = Index(tmp_path / "index", embedder=fake_embedder)
    assert index.size == 5
    [hit] = index.search("新增纳入重点排放单位约1500家", k=1)
    assert (hit.doc_id, hit.paragraph, hit.also_published_by) == ("b-portal.html", 2, ())
    assert "，" in hit.text or ", " in hit.text


def test_a_rewritten_paragraph_is_no_longer_a_duplicate(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    write_portals(corpus)
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    text = (corpus / "b-portal.html").read_text("utf-8").replace("约1500家", "一千五百余家")
    (corpus / "b-portal.html").write_text(text, "utf-8")
    report = build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    assert (report.updated, report.duplicates, report.embedded) == (1, 2, 1)
    hits = Index(tmp_path / "index", embedder=fake_embedder).search("新增纳入重点排放单位", k=2)
    assert {h.doc_id for h in hits} == {"a-portal.html", "b-portal.html"}
