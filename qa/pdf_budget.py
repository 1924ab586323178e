"""Bounds on the work one PDF can cause before pdfminer reads it: pages, decoded stream bytes.

pdfminer inflates every stream it uses whole, in memory, and keeps it: a few KB compressed twice
can become gigabytes. Before a page is read, each stream it draws on (contents, forms, fonts,
ToUnicode maps; not images, which text extraction never decodes) is inflated here with a bounded
decoder, and the file is refused once the streams of all its pages pass MAX_PDF_DECODED_BYTES.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

from qa.errors import IngestError

MAX_PDF_PAGES = 2_000
MAX_PDF_DECODED_BYTES = 128 * 1024 * 1024
# pdfminer repairs a damaged Flate stream one input byte at a time, in time quadratic in its size.
MAX_PDF_DAMAGED_STREAM_BYTES = 4 * 1024 * 1024
PDF_FIX = "re-save it (print it to a new PDF) or export its text"


def check_page_count(path: Path, pdf) -> None:
    """Count the page tree lazily and stop past the limit, before pdfplumber builds every page."""
    from pdfminer.pdfpage import PDFPage

    for count, _ in enumerate(PDFPage.create_pages(pdf.doc), start=1):
        if count > MAX_PDF_PAGES:
            raise IngestError(
                path, f"more than {MAX_PDF_PAGES:,} pages, over the limit (MAX_PDF_PAGES)",
                "split the file",
            )  # fmt: skip


def page_stream_bytes(path: Path, page, seen: set[int]) -> int:
    """Decoded bytes of the streams this page draws on that no earlier page drew on (`seen`).

    An iterative walk over the objects below /Contents and /Resources, each visited once per file,
    so deep nesting and shared fonts cost nothing extra.
    """
    from pdfminer.pdftypes import PDFObjRef, PDFStream

    total, stack = 0, [*page.contents, page.resources]
    while stack and total <= MAX_PDF_DECODED_BYTES:
        obj = stack.pop()
        if isinstance(obj, PDFObjRef):
            obj = obj.resolve()
        if not isinstance(obj, (dict, list, PDFStream)) or id(obj) in seen:
            continue
        seen.add(id(obj))  # pdfminer caches resolved objects, so ids stay valid
        if isinstance(obj, PDFStream):
            if getattr(obj.get("Subtype"), "name", None) != "Image":
                total += _decoded_size(path, obj, MAX_PDF_DECODED_BYTES - total)
            stack.extend(obj.attrs.values())
        else:
            stack.extend(obj.values() if isinstance(obj, dict) else obj)
    return total


def _decoded_size(path: Path, stream, limit: int) -> int:
    """How many bytes `stream` decodes to, decoding no more than `limit + 1` bytes of it."""
    from pdfminer import pdftypes as t
    from pdfminer.ascii85 import ascii85decode, asciihexdecode
    from pdfminer.lzw import LZWDecoder

    if stream.data is not None:
        return len(stream.data)
    data = stream.rawdata or b""
    if stream.decipher:
        data = stream.decipher(stream.objid, stream.genno, data, stream.attrs)
    for name, _ in stream.get_filters():
        if name in t.LITERALS_FLATE_DECODE:
            data = _inflate(path, data, limit)
        elif name in t.LITERALS_LZW_DECODE:
            out = bytearray()
            for piece in LZWDecoder(io.BytesIO(data)).run():
                out += piece
                if len(out) > limit:
                    break
            data = bytes(out)
        elif name in t.LITERALS_ASCII85_DECODE:
            data = ascii85decode(data)  # these two only shrink their input
        elif name in t.LITERALS_ASCIIHEX_DECODE:
            data = asciihexdecode(data)
        elif name in t.LITERALS_RUNLENGTH_DECODE:
            return len(data) * 64  # at most 64-fold; rare outside images, so not decoded here
        else:
            break  # image codecs (DCT, JPX, CCITT, JBIG2): pdfminer leaves those encoded
        if len(data) > limit:
            break
    return len(data)


def _inflate(path: Path, data: bytes, limit: int) -> bytearray:
    """At most `limit + 1` bytes of a Flate stream; a damaged one is measured up to the damage."""
    inflater, out, pending = zlib.decompressobj(), bytearray(), data
    try:
        while pending and len(out) <= limit and not inflater.eof:
            # 1 MB per call, so that an error near the end loses little of what was measured
            out += inflater.decompress(pending, min(1 << 20, limit + 1 - len(out)))
            pending = inflater.unconsumed_tail
    except zlib.error:
        if len(out) > MAX_PDF_DAMAGED_STREAM_BYTES:
            raise IngestError(
                path, f"has a damaged compressed stream of over "
                f"{MAX_PDF_DAMAGED_STREAM_BYTES >> 20} MB (MAX_PDF_DAMAGED_STREAM_BYTES)", PDF_FIX,
            ) from None  # fmt: skip
    return out  # no copy: up to MAX_PDF_DECODED_BYTES
