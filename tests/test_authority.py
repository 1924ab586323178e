"""Which document governs: level, effective date, status and relations."""

from __future__ import annotations

from pathlib import Path

from qa import authority
from qa.authority import Authority, governing_key, infer, infer_level, resolve
from qa.documents import read_document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def test_levels_from_document_numbers_issuers_and_titles():
    assert infer_level("碳排放权交易管理暂行条例", "国务院", "国务院令第775号", False) == "行政法规"
    assert infer_level(
        "碳排放权交易管理办法（试行）", "生态环境部", "生态环境部令第19号", False
    ) == ("部门规章")
    assert infer_level(
        "中华人民共和国大气污染防治法", "全国人民代表大会常务委员会", None, False
    ) == ("法律")
    assert infer_level("关于…的意见", "中共中央、国务院", "中发〔2021〕36号", False) == (
        "党内法规/政策文件"
    )
    assert infer_level("关于做好…的通知", "生态环境部办公厅", "环办气候函〔2025〕140号", False) == (
        "规范性文件"
    )
    assert infer_level("某新闻", None, None, True) == "新闻报道"
    assert infer_level("随便", None, None, False, declared="部门规章") == "部门规章"


def test_the_shipped_library_knows_its_authorities():
    docs = {p.name: read_document(p, CORPUS) for p in CORPUS.glob("*.md")}
    regulation = infer(docs["carbon-trading-interim-regulations-2024.md"])
    assert (regulation.level, regulation.effective) == ("行政法规", "2024-05-01")
    measures = infer(docs["carbon-trading-measures-2020.md"])
    assert (measures.level, measures.effective) == ("部门规章", "2021-02-01")
    review = infer(docs["fixed-asset-energy-carbon-review-measures-2025.md"])
    assert review.repeals == ("固定资产投资项目节能审查办法",)
    assert governing_key(regulation, None) < governing_key(measures, None)


def test_a_repeal_in_the_library_marks_the_older_document():
    found = resolve({
        "new": ("固定资产投资项目节能审查和碳排放评价办法",
                Authority(level="部门规章", repeals=("固定资产投资项目节能审查办法",))),
        "old": ("固定资产投资项目节能审查办法", Authority(level="部门规章")),
        "other": ("别的办法", Authority(level="部门规章")),
    })  # fmt: skip
    assert found["old"].status == authority.REPEALED
    assert found["old"].superseded_by == ("new",)
    assert found["new"].supersedes == ("old",)
    assert found["other"].in_force


def test_front_matter_status_and_relations_win(tmp_path):
    path = tmp_path / "old.md"
    path.write_text(
        "---\ntitle: 旧办法\nstatus: 已废止\nsuperseded_by: new.md\nlevel: 部门规章\n"
        "effective: 2019-01-01\n---\n\n第一条 本办法自2019年1月1日起施行。\n\n正文一段。\n",
        encoding="utf-8",
    )
    found = infer(read_document(path, tmp_path))
    assert (found.status, found.level, found.effective) == ("已废止", "部门规章", "2019-01-01")
    assert found.superseded_by == ("new.md",)
    assert not found.in_force


def test_governing_order_in_force_then_level_then_newer():
    law = Authority(level="法律", effective="2018-10-26")
    old_rule = Authority(level="部门规章", effective="2021-02-01")
    new_rule = Authority(level="部门规章", effective="2023-10-20")
    repealed = Authority(level="行政法规", status=authority.REPEALED)
    ordered = sorted([old_rule, repealed, new_rule, law], key=lambda a: governing_key(a, None))
    assert ordered == [law, new_rule, old_rule, repealed]


def test_authority_survives_json():
    found = Authority(level="行政法规", effective="2024-05-01", supersedes=("a",), repeals=("X",))
    assert Authority.from_json(found.to_json()) == found
    assert Authority.from_json("{broken") == Authority()
