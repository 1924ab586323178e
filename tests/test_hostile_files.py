"""Hostile corpus files: each is read sensibly or skipped with a warning naming it, the other files
are still indexed, and no file costs unbounded time, memory or stack.

Files that could hang or exhaust memory on a broken reader are read in a child interpreter with
an address-space cap and a timeout that only stops a hang; the assertions are on the outcome.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from qa import Index, build_index
from qa.documents import MAX_BLOCK_CHARS, MAX_DOCUMENT_CHARS, MAX_FILE_BYTES, read_document
from qa.errors import IngestError

REPO = Path(__file__).resolve().parent.parent
GOOD = "---\ntitle: 配额清缴\n---\n\n重点排放单位应当在规定时限内足额清缴碳排放配额。\n"
HANG_TIMEOUT = 60  # seconds: only stops a hang; a working reader takes a small fraction of it


def corpus_with(tmp_path: Path, name: str, content: bytes | str) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "good.md").write_text(GOOD, encoding="utf-8")
    data = content.encode() if isinstance(content, str) else content
    (corpus / name).write_bytes(data)
    return corpus


def build(corpus: Path, tmp_path: Path, embedder) -> tuple[list[str], dict[str, dict]]:
    """Build the index; return its warnings and documents, after checking good.md made it."""
    report = build_index([corpus], tmp_path / "index", embedder=embedder)
    index = Index(tmp_path / "index", embedder=embedder)
    try:
        docs = {doc["doc_id"]: doc for doc in index.documents()}
    finally:
        index.close()
    assert "good.md" in docs, report.warnings
    return report.warnings, docs


def skipped(warnings: list[str], name: str) -> bool:
    return any(w.startswith("skipped") and name in w for w in warnings)


_CHILD = """
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
sys.path.insert(0, sys.argv[1])
out = {}
try:
    if sys.argv[2] == "read":
        from qa.documents import read_document
        doc = read_document(Path(sys.argv[3]))
        out = {"outcome": "read", "title": doc.title, "count": len(doc.blocks),
               "blocks": [b.text[:80] for b in doc.blocks[-3:]]}
    else:
        from fakes import FakeEmbedder
        from qa.build import build_index
        from qa.search import Index
        report = build_index([Path(sys.argv[3])], Path(sys.argv[4]), embedder=FakeEmbedder())
        index = Index(Path(sys.argv[4]), embedder=FakeEmbedder())
        docs = [doc["doc_id"] for doc in index.documents()]
        out = {"outcome": "built", "warnings": report.warnings, "docs": docs}
except Exception as error:
    from qa.errors import IngestError
    out = {"outcome": "refused" if isinstance(error, IngestError) else type(error).__name__,
           "message": str(error)[:500]}
# VmHWM, not ru_maxrss: ru_maxrss keeps the size of the forked test runner across exec.
hwm = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
out["peak_mb"] = int(hwm.split()[1]) / 1024
print(json.dumps(out))
"""


def isolated(*args: object) -> dict:
    """Run the child script (`read PATH` or `build CORPUS INDEX`) under a 3 GB address-space cap."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(REPO / "tests"), *map(str, args)],
        capture_output=True, text=True, timeout=HANG_TIMEOUT, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# 1. Front matter dates that cannot exist


@pytest.mark.parametrize(
    "date", ["2021-02-30", "2020-13-45", "0000-01-01", "2021-03-01 10:00:00+99:00"]
)
def test_impossible_front_matter_date_is_indexed_undated(tmp_path, fake_embedder, caplog, date):
    text = f"---\ntitle: 日期有误的通知\ndate: {date}\n---\n\n全国碳市场扩围工作稳步推进。\n"
    corpus = corpus_with(tmp_path, "baddate.md", text)
    with caplog.at_level(logging.WARNING, logger="qa.documents"):
        warnings, docs = build(corpus, tmp_path, fake_embedder)
    assert docs["baddate.md"]["date"] is None and docs["baddate.md"]["title"] == "日期有误的通知"
    assert not warnings
    assert any(
        "baddate.md" in r.getMessage() and "undated" in r.getMessage() for r in caplog.records
    )


# 2. Symbolic links out of the corpus folder


def test_symlink_out_of_the_corpus_is_not_read(tmp_path, fake_embedder, caplog):
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.md").write_text(
        "# 机密\n\n这是语料目录之外的私人文件内容。\n", encoding="utf-8"
    )
    corpus = corpus_with(tmp_path, "other.md", "# 其他\n\n另一份政策文件的正文内容。\n")
    (corpus / "leak.md").symlink_to(outside / "secret.md")
    (corpus / "leakdir").symlink_to(outside, target_is_directory=True)
    (corpus / ".drafts").mkdir()
    (corpus / ".drafts" / "draft.md").write_text("# 草稿\n\n语料目录之内的草稿正文。\n", "utf-8")
    (corpus / "inside.md").symlink_to(corpus / ".drafts" / "draft.md")
    with caplog.at_level(logging.WARNING, logger="qa.documents"):
        warnings, docs = build(corpus, tmp_path, fake_embedder)
    assert set(docs) == {"good.md", "other.md", ".drafts/draft.md"}  # the inside link is read
    assert not warnings
    assert any("leak.md" in r.getMessage() and "outside" in r.getMessage() for r in caplog.records)
    with pytest.raises(IngestError, match=r"secret\.md: is outside the corpus folder"):
        read_document((corpus / "leak.md").resolve(), corpus)


# 3. Deep nesting


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("divs.html", "<div>" * 1000 + "深层嵌套的段落内容。"),
        ("divs100k.html", "<div>" * 100_000 + "十万层嵌套的段落内容。"),
        ("spans.html", "<p>" + "<span><b>" * 1000 + "深层嵌套的行内内容。</p>"),
        (
            "quotes.md",
            "<div>" * 1000 + "深层嵌套的块内容。\n\n" + "> " * 1000 + "深层嵌套的引用内容。\n",
        ),
    ],
)
def test_deeply_nested_markup_is_read_without_recursion(tmp_path, fake_embedder, name, content):
    warnings, docs = build(corpus_with(tmp_path, name, content), tmp_path, fake_embedder)
    assert name in docs and not warnings
    text = read_document(tmp_path / "corpus" / name).text
    assert "嵌套的" in text and "<" not in text


# 4. Malformed PDFs


def make_pdf(path: Path, *, mediabox: str = "[0 0 612 792]", rotate: str = "0",
             font: str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
             content: bytes = b"BT /F1 12 Tf 72 700 Td (Carbon allowances are surrendered.) Tj ET",
             stream_dict: str | None = None) -> Path:  # fmt: skip
    """A one-page PDF written by hand, so each field can be broken on purpose."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox {mediabox} /Rotate {rotate} "
        "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>".encode(),
        f"<< {stream_dict or f'/Length {len(content)}'} >>\nstream\n".encode()
        + content
        + b"\nendstream",
        font.encode(),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(bytes(out))
    return path


DEEP = "[" * 10_000 + "]" * 10_000
BROKEN_PDFS = {
    "short-mediabox": {"mediabox": "[0 0 612]"},
    "string-mediabox": {"mediabox": "(abc)"},
    "string-rotate": {"rotate": "(ninety)"},
    "type0-without-descendants": {
        "font": "<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H >>"
    },
    "nested-arrays": {"mediabox": DEEP},
}


@pytest.mark.parametrize("stream_dict", [None, "/Length -5"])
def test_hand_written_pdf_and_negative_stream_length_are_read(tmp_path, fake_embedder, stream_dict):
    corpus = corpus_with(tmp_path, "placeholder.txt", "占位文件的正文内容。")
    path = make_pdf(corpus / "odd.pdf", stream_dict=stream_dict)
    warnings, docs = build(corpus, tmp_path, fake_embedder)
    assert "odd.pdf" in docs and not warnings  # pdfminer finds the stream's end by `endstream`
    assert read_document(path).text == "Carbon allowances are surrendered."


@pytest.mark.parametrize("case", BROKEN_PDFS)
def test_malformed_pdf_is_refused_by_name(tmp_path, fake_embedder, case):
    corpus = corpus_with(tmp_path, "placeholder.txt", "占位文件的正文内容。")
    path = make_pdf(corpus / f"{case}.pdf", **BROKEN_PDFS[case])
    warnings, docs = build(corpus, tmp_path, fake_embedder)
    assert skipped(warnings, f"{case}.pdf") and f"{case}.pdf" not in docs
    with pytest.raises(IngestError, match=rf"{case}\.pdf: is (a damaged|not a readable) PDF \(\w+"):
        read_document(path)


# 5. Malformed DOCX


def make_docx(path: Path, body: str | None = None, bold_value: str | None = None) -> Path:
    """A python-docx file, its document.xml then edited: `body` replaces the body content."""
    from docx import Document

    word = Document()
    word.add_paragraph("碳排放配额分配以免费分配为主。")
    word.add_paragraph().add_run("二、清缴要求").bold = True
    buffer = io.BytesIO()
    word.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                xml = data.decode()
                if bold_value is not None:
                    xml = xml.replace("<w:b/>", f'<w:b w:val="{bold_value}"/>')
                if body is not None:
                    xml = re.sub(r"<w:body>.*<w:sectPr", lambda _: f"<w:body>{body}<w:sectPr",
                                 xml, flags=re.S)  # fmt: skip
                data = xml.encode()
            dst.writestr(info.filename, data)
    path.write_bytes(out.getvalue())
    return path


def cell(text: str, props: str = "") -> str:
    return f"<w:tc><w:tcPr>{props}</w:tcPr><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"


def table(*rows: str) -> str:
    grid = "<w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>"
    return f"<w:tbl><w:tblPr/>{grid}{''.join(f'<w:tr>{row}</w:tr>' for row in rows)}</w:tbl>"


LEAD = "<w:p><w:r><w:t>碳排放配额分配以免费分配为主。</w:t></w:r></w:p>"
VMERGE = '<w:vMerge w:val="restart"/>'


@pytest.mark.parametrize(
    ("case", "kwargs", "rows"),
    [
        ("bold-maybe", {"bold_value": "maybe"}, ["二、清缴要求"]),
        ("gridspan-abc", {"body": LEAD + table(cell("甲", '<w:gridSpan w:val="abc"/>') + cell("乙"))},
         ["甲 | 乙"]),
        ("vmerge-first-row", {"body": LEAD + table(cell("甲", "<w:vMerge/>") + cell("乙"))},
         ["甲 | 乙"]),
        ("vmerge-rows", {"body": LEAD + table(cell("首", VMERGE) + cell("一"),
                                              cell("", "<w:vMerge/>") + cell("二"))},
         ["首 | 一", "首 | 二"]),
    ],
)  # fmt: skip
def test_odd_docx_values_are_read_sensibly(tmp_path, fake_embedder, case, kwargs, rows):
    corpus = corpus_with(tmp_path, "placeholder.txt", "占位文件的正文内容。")
    path = make_docx(corpus / f"{case}.docx", **kwargs)
    warnings, docs = build(corpus, tmp_path, fake_embedder)
    assert f"{case}.docx" in docs and not warnings
    texts = [block.text for block in read_document(path).blocks]
    assert texts == ["碳排放配额分配以免费分配为主。", *rows]


def test_long_vertical_merge_and_huge_grid_span_cost_little(tmp_path):
    chain = [cell("", "<w:vMerge/>") + cell(f"第{i}行") for i in range(2000)]
    huge = cell("宽", '<w:gridSpan w:val="2147483647"/>') + cell("窄")
    path = make_docx(tmp_path / "merged.docx", LEAD + table(cell("首", VMERGE) + cell("一"),
                                                             *chain, huge))  # fmt: skip
    result = isolated("read", path)
    assert result["outcome"] == "read", result
    assert result["count"] == 2003 and result["blocks"][-2:] == ["首 | 第1999行", "宽 | 窄"]
    assert result["peak_mb"] < 1024


def test_docx_with_four_million_empty_paragraphs_is_refused_while_reading(tmp_path):
    corpus = corpus_with(tmp_path, "placeholder.txt", "占位文件的正文内容。")
    path = make_docx(corpus / "flood.docx", LEAD + "<w:p/>" * 4_000_000)
    assert path.stat().st_size < 200_000
    result = isolated("build", corpus, tmp_path / "index")
    assert result["outcome"] == "built" and "good.md" in result["docs"], result
    assert skipped(result["warnings"], "flood.docx")
    assert any("MAX_DOCX_PARAGRAPHS" in w for w in result["warnings"])
    assert result["peak_mb"] < 1024


def test_docx_whose_document_xml_unpacks_too_large_is_refused_from_the_zip_directory(tmp_path):
    path = make_docx(tmp_path / "big.docx", LEAD + " " * (60 << 20))  # 60 MB, ~60 KB packed
    assert path.stat().st_size < 200_000
    with pytest.raises(
        IngestError, match=r"big\.docx: word/document\.xml unpacks to .*MAX_DOCX_XML"
    ):
        read_document(path)


# 6. Bounded work


def test_unclosed_tag_run_in_text_file_is_scanned_linearly(tmp_path):
    path = tmp_path / "tags.txt"  # no ">" anywhere: the old pattern rescanned the rest per "<p"
    path.write_text(("<p " * 30 + "\n\n") * 7000 + "全国碳市场运行平稳。\n", encoding="utf-8")
    result = isolated("read", path)
    assert result["outcome"] == "read" and result["blocks"][-1] == "全国碳市场运行平稳。", result


def test_html_title_with_a_long_run_of_spaces_is_split_linearly(tmp_path):
    path = tmp_path / "title.html"
    path.write_text(
        f"<title>碳市场{' ' * 100_000}周报 - 示例网</title><p>全国碳市场运行平稳。</p>", "utf-8"
    )
    result = isolated("read", path)
    assert result["outcome"] == "read" and result["title"] == "碳市场 周报", result


def double_flate_bomb(gigabytes: int = 2) -> bytes:
    """Spaces deflated twice: ~5 KB that inflate to `gigabytes` GB. The inner stream repeats one
    full-flushed 1 MB segment, so building it never compresses gigabytes."""
    chunk = b" " * (1 << 20)
    deflater = zlib.compressobj(9)
    first = deflater.compress(chunk) + deflater.flush(zlib.Z_FULL_FLUSH)
    again = deflater.compress(chunk) + deflater.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(gigabytes << 10):
        adler = zlib.adler32(chunk, adler)
    inner = first + again * ((gigabytes << 10) - 1) + b"\x03\x00" + adler.to_bytes(4, "big")
    return zlib.compress(inner, 9)


def test_pdf_compressed_twice_into_a_bomb_is_refused(tmp_path):
    corpus = corpus_with(tmp_path, "placeholder.txt", "占位文件的正文内容。")
    bomb = double_flate_bomb()
    make_pdf(corpus / "bomb.pdf", content=bomb,
             stream_dict=f"/Length {len(bomb)} /Filter [/FlateDecode /FlateDecode]")  # fmt: skip
    assert (corpus / "bomb.pdf").stat().st_size < 10_000
    result = isolated("build", corpus, tmp_path / "index")
    assert result["outcome"] == "built" and "good.md" in result["docs"], result
    assert skipped(result["warnings"], "bomb.pdf")
    assert any("MAX_PDF_DECODED_BYTES" in w for w in result["warnings"])
    assert result["peak_mb"] < 1024


def test_pdf_with_a_large_damaged_stream_is_refused(tmp_path):
    """pdfminer would repair it byte by byte, in quadratic time."""
    content = zlib.compress(b"BT ET " * 1_000_000)[:-4] + b"XXXX"  # 6 MB, wrong checksum
    path = make_pdf(tmp_path / "damaged.pdf", content=content,
                    stream_dict=f"/Length {len(content)} /Filter /FlateDecode")  # fmt: skip
    with pytest.raises(IngestError, match=r"damaged\.pdf: .*MAX_PDF_DAMAGED_STREAM_BYTES"):
        read_document(path)


def test_ten_megabyte_paragraph_is_refused(tmp_path):
    path = tmp_path / "dump.txt"
    path.write_text("c" * 10_000_000, encoding="utf-8")
    with pytest.raises(IngestError, match=r"dump\.txt: paragraph 1 has 10,000,000 characters, "
                       r"over the 100,000-character limit .*MAX_BLOCK_CHARS.*; split"):  # fmt: skip
        read_document(path)


def test_over_long_paragraph_and_document_are_skipped_by_name(tmp_path, fake_embedder):
    corpus = corpus_with(tmp_path, "long-paragraph.txt", "排" * (MAX_BLOCK_CHARS + 1))
    paragraphs = MAX_DOCUMENT_CHARS // (MAX_BLOCK_CHARS - 10_000) + 1
    (corpus / "long-document.txt").write_text(
        "\n\n".join(f"{i}" + "放" * (MAX_BLOCK_CHARS - 10_000) for i in range(paragraphs)), "utf-8"
    )
    warnings, docs = build(corpus, tmp_path, fake_embedder)
    assert set(docs) == {"good.md"}
    assert skipped(warnings, "long-paragraph.txt") and any("MAX_BLOCK_CHARS" in w for w in warnings)
    assert skipped(warnings, "long-document.txt") and any(
        "MAX_DOCUMENT_CHARS" in w for w in warnings
    )


# 7. Oversized and non-regular files


def test_sparse_file_over_the_size_limit_is_refused_before_reading(tmp_path, fake_embedder):
    corpus = corpus_with(tmp_path, "sparse.txt", b"")
    with open(corpus / "sparse.txt", "r+b") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # no disk blocks are used
    warnings, docs = build(corpus, tmp_path, fake_embedder)
    assert skipped(warnings, "sparse.txt") and any("MAX_FILE_BYTES" in w for w in warnings)
    assert "sparse.txt" not in docs


def test_link_to_dev_zero_is_never_read(tmp_path, fake_embedder, caplog):
    corpus = corpus_with(tmp_path, "placeholder.txt", "占位文件的正文内容。")
    (corpus / "zero.txt").symlink_to("/dev/zero")
    with caplog.at_level(logging.WARNING, logger="qa.documents"):
        build(corpus, tmp_path, fake_embedder)
    assert any("zero.txt" in r.getMessage() for r in caplog.records)
    result = isolated("read", corpus / "zero.txt")
    assert result["outcome"] == "refused" and "not a regular file" in result["message"], result


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    result = isolated("read", tmp_path / "pipe.txt")
    assert result["outcome"] == "refused", result
    assert "pipe.txt: is not a regular file" in result["message"]


def test_a_known_file_that_grew_past_the_limit_is_refused_without_reading_it_whole(
    tmp_path, fake_embedder
):
    from qa.build import _file_sha256
    from qa.documents import MAX_FILE_BYTES

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text(
        "# 好文件\n\n碳排放权交易市场建设稳步推进。\n", encoding="utf-8"
    )
    grows = corpus / "grows.md"
    grows.write_text("# 会变大的文件\n\n温室气体排放报告应当真实完整。\n", encoding="utf-8")
    build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    with open(grows, "r+b") as file:  # sparse: no real disk use
        file.truncate(MAX_FILE_BYTES + 1)
    assert _file_sha256(grows) is None
    report = build_index([corpus], tmp_path / "index", embedder=fake_embedder)
    assert any("grows.md" in w and "MAX_FILE_BYTES" in w for w in report.warnings)
