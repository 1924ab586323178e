"""Questions about a document rather than its content: 《X》还有效吗？ (answered from the library's
repeal relations) and 《X》是哪个部门发的？ / 哪位总理签署的？ (answered from its signature)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa import authority as authorities
from qa.search import Index, Passage

_STATUS_ASKED = re.compile(
    r"还有效|有效吗|是否有效|废止|失效|作废|还适用|仍然适用|现行有效|\bin force\b|still (?:valid|apply)|repealed",
    re.I,
)
_QUOTED_TITLE = re.compile(r"《([^》]{4,60})》")


def status_quotes(index: Index, question: str, named: Sequence[str]) -> tuple[str, list] | None:
    """For 《X》还有效吗？: (lead, [(passage, start, end)]) from the library: the provision that
    repealed X, or, when X is in the library and in force, the newest text that still cites it.
    None when the question asks no status or names no text."""
    from qa.text import sentence_spans

    if not _STATUS_ASKED.search(question):
        return None
    titles = {d["doc_id"]: d["title"] for d in index.titles()}
    authorities_by_doc = index.authorities()
    asked = [m.group(1) for m in _QUOTED_TITLE.finditer(question)]
    # A repealed text is not in the library, but its title is, in the text that repealed it:
    # 节能审查办法还适用吗 asks about that text, not about its successor the search names.
    plain = re.sub(r"\s+", "", question)
    asked += [r for a in authorities_by_doc.values() for r in a.repeals
              if authorities.title_key(r) in plain and r not in asked]  # fmt: skip
    asked += [titles[d] for d in named if d in titles and titles[d] not in asked]
    if not asked:
        return None
    title = asked[0]
    key = authorities.title_key(title)
    target = next((d for d, t in titles.items() if authorities.title_key(t) == key), None)

    def sentences_naming(doc_ids, must: str | None) -> list[tuple[Passage, int, int]]:
        found = []
        for passage in index.search(title, k=20, docs=list(doc_ids)):
            text = passage.text
            for start, end in sentence_spans(text):
                sentence = text[start:end]
                if key in re.sub(r"\s+", "", sentence) and (must is None or must in sentence):
                    found.append((passage, start, end))
        return found

    repealers = [d for d, a in authorities_by_doc.items()
                 if any(authorities.title_key(r) == key for r in a.repeals)]  # fmt: skip
    if repealers:
        quotes = sentences_naming(repealers, "废止")
        if quotes:
            return f"《{title}》已废止：", quotes[:1]
    if target is not None and authorities_by_doc[target].in_force:
        others = [d for d in titles if d != target]
        dates = {d["doc_id"]: d.get("date") or "" for d in index.documents()}
        # Only a text issued after it can show that it still applies (a 2021 news report
        # announcing the 2023 方案 shows nothing of the kind).
        quotes = sorted((q for q in sentences_naming(others, None)
                         if (q[0].date or "") > dates.get(target, "")),
                        key=lambda q: q[0].date or "", reverse=True)  # fmt: skip
        lead = f"资料中没有废止《{title}》的规定；"
        if quotes:
            return lead + "较新的文件仍以其为依据：", quotes[:1]
        # Nothing newer cites it: its own commencement clause (本办法自…起施行) shows it.
        own = [(p, start, end) for p in index.search(f"{title} 自 起施行", k=5, docs=[target])
               for start, end in sentence_spans(p.text) if "起施行" in p.text[start:end]]  # fmt: skip
        return lead + ("它在资料中现行有效：" if own else "它在资料中现行有效。"), own[:1]
    return None


_ISSUER_ASKED = re.compile(r"(?:谁|哪个部门|哪个机关|哪些部门|哪位|哪个单位).{0,6}(?:发布|印发|发的|签署|公布|颁布|制定|签发)"
                           r"|(?:发布|印发|签署|公布|颁布|签发).{0,4}(?:的是谁|的部门)"
                           r"|\bwho (?:signed|issued|published|promulgated)|\b(?:signed|issued) by\b"
                           r"|which (?:department|ministry|agency|body|authority) (?:issued|published)",
                           re.I)  # fmt: skip
_SIGNER = re.compile(r"总理|部长|主任|局长|主席|委员长|\bsign|premier|minister", re.I)


def issuer_quotes(index: Index, question: str, named: Sequence[str]) -> list:
    """For 《X》是哪个部门发的？ / 哪位总理签署公布的？: the sentences of X that name its issuer or
    signer (the signature block, the order's preamble), as [(passage, start, end)]."""
    from qa.text import sentence_spans

    if not named or not _ISSUER_ASKED.search(question):
        return []
    doc_id = named[0]
    row = next((d for d in index.documents() if d["doc_id"] == doc_id), None)
    issuer = (row or {}).get("issuer") or ""
    wanted = [part for part in re.split(r"[、，,\s]+", issuer) if len(part) >= 2]
    signer = bool(_SIGNER.search(question))

    def names_issuer(sentence: str) -> bool:
        if signer:  # 总理　李强: a short signature line
            return bool(_SIGNER.search(sentence)) and len(sentence) <= 40
        return any(w in sentence for w in wanted)

    for passage in index.search(" ".join([issuer, "总理 部长 印发 公布"]), k=10, docs=[doc_id]):
        for start, end in sentence_spans(passage.text):
            if names_issuer(passage.text[start:end]):
                return [(passage, start, end)]
    return []
