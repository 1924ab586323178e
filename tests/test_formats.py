"""PDF and Word ingestion: exact passages, page numbers in citations, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import Index, build_index
from qa.documents import read_document
from qa.errors import IngestError

HEADER = "生态环境部文件 环气候〔2023〕67号"


def make_pdf(path: Path, pages: list[list[tuple[float, str, float]]]) -> Path:
    """Pages of (x, text, font size) lines, each page with a running header and a page number."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for number, lines in enumerate(pages, start=1):
        pdf.setFont("STSong-Light", 9)
        pdf.drawString(72, height - 40, HEADER)
        y = height - 90
        for x, text, size in lines:
            pdf.setFont("STSong-Light", size)
            pdf.drawString(x, y, text)
            y -= size * 1.8
        pdf.setFont("STSong-Light", 9)
        pdf.drawString(width / 2 - 10, 30, f"- {number} -")
        pdf.showPage()
    pdf.save()
    return path


TWO_PAGES = [
    [
        (200, "甲烷排放控制行动方案", 18),
        (96, "为贯彻落实党中央决策部署，科学、合理、有序控制甲烷排放，", 12),
        (72, "制定本行动方案。", 12),
        (72, "一、面临形势", 14),
        (96, "甲烷是全球第二大温室气体，具有增温潜势高、寿命短的特点。积", 12),
        (72, "极稳妥有序控制甲烷排放，兼具减缓全球温升的气候效益、能源资源", 12),
    ],
    [
        (72, "化利用的经济效益和协同控制污染物的环境效益。", 12),
        (96, "二是推动出台甲烷排放控制行动方案，建立相关标准体系。", 12),
    ],
]


def test_pdf_paragraphs_flow_across_lines_and_pages(tmp_path: Path):
    doc = read_document(make_pdf(tmp_path / "plan.pdf", TWO_PAGES))
    assert doc.title == "甲烷排放控制行动方案"
    assert [(b.page, b.is_heading, b.text) for b in doc.blocks] == [
        (1, True, "甲烷排放控制行动方案"),
        (1, False, "为贯彻落实党中央决策部署，科学、合理、有序控制甲烷排放，制定本行动方案。"),
        (1, True, "一、面临形势"),
        (1, False, "甲烷是全球第二大温室气体，具有增温潜势高、寿命短的特点。积极稳妥有序控制甲烷排放，"
                   "兼具减缓全球温升的气候效益、能源资源化利用的经济效益和协同控制污染物的环境效益。"),
        (2, False, "二是推动出台甲烷排放控制行动方案，建立相关标准体系。"),
    ]  # fmt: skip
    assert HEADER not in doc.text and "- 1 -" not in doc.text and "- 2 -" not in doc.text


def test_pdf_citation_carries_the_page(tmp_path: Path, fake_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    make_pdf(corpus / "plan.pdf", TWO_PAGES)
    build_index([corpus], tmp_path / "i", embedder=fake_embedder)
    [hit] = Index(tmp_path / "i", embedder=fake_embedder).search(
        "推动出台甲烷排放控制行动方案", k=1
    )
    assert (hit.page, hit.paragraph) == (2, 5)
    assert hit.citation == "《甲烷排放控制行动方案》一、面临形势，第2页，第5段"


def test_pdf_without_text_layer_says_ocr_is_not_supported(tmp_path: Path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(50, 50, 300, 400, fill=1)  # a page that is all picture, no text
    pdf.showPage()
    pdf.save()
    with pytest.raises(IngestError, match=r"scan\.pdf: has no text layer .*OCR is not supported"):
        read_document(path)


def test_damaged_pdf_is_refused(tmp_path: Path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nnot really a pdf")
    with pytest.raises(IngestError, match=r"broken\.pdf: is not a readable PDF"):
        read_document(path)


def test_docx_headings_paragraphs_and_table_rows(tmp_path: Path):
    from docx import Document

    word = Document()
    word.core_properties.title = "全国碳市场配额分配方案"
    word.add_heading("一、配额分配原则", level=1)
    word.add_paragraph("配额分配以免费分配为主，适时引入有偿分配。")
    table = word.add_table(rows=3, cols=3)
    for row, values in zip(
        table.rows,
        [
            ("行业", "基准值", "单位"),
            ("发电", "0.8218", "吨/兆瓦时"),
            ("水泥", "0.8612", "吨/吨熟料"),
        ],
    ):
        for cell, value in zip(row.cells, values):
            cell.text = value
    bold = word.add_paragraph().add_run("二、清缴要求")
    bold.bold = True
    word.add_paragraph("重点排放单位应当在规定时限内足额清缴配额。")
    word.save(tmp_path / "plan.docx")
    doc = read_document(tmp_path / "plan.docx")
    assert doc.title == "全国碳市场配额分配方案"
    assert [(b.is_heading, b.text) for b in doc.blocks] == [
        (True, "一、配额分配原则"),
        (False, "配额分配以免费分配为主，适时引入有偿分配。"),
        (False, "行业 | 基准值 | 单位"),
        (False, "发电 | 0.8218 | 吨/兆瓦时"),
        (False, "水泥 | 0.8612 | 吨/吨熟料"),
        (True, "二、清缴要求"),
        (False, "重点排放单位应当在规定时限内足额清缴配额。"),
    ]


def test_damaged_docx_is_refused(tmp_path: Path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(IngestError, match=r"broken\.docx: is not a readable \.docx"):
        read_document(path)
