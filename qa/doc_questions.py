"""Questions answered by a look-up rather than a search: about a document (《X》还有效吗？ from the
library's repeal relations; 《X》是哪个部门发的？ / 哪位总理签署的？ from its signature), a term's
definition (…所称的温室气体), and a person's title (陆新明担任什么职务？)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa import authority as authorities
from qa.answer_types import TITLES
from qa.search import Index, Passage

_STATUS_ASKED = re.compile(
    r"还有效|有效吗|是否有效|废止|失效|作废|还适用|仍然适用|现行有效|\bin force\b|still (?:valid|apply)|repealed",
    re.I,
)
_SAID = re.compile(r"“[^”]*”|「[^」]*」|\"[^\"]*\"")
_KIND_WORD = re.compile(r"办法|条例|意见|方案|通知|规定|法律|法")
_QUOTED_TITLE = re.compile(r"《([^》]{4,60})》")


def _names_tail(text: str, key: str, shortest: int = 6) -> bool:
    """The text names the title by it or by its last `shortest` or more characters."""
    return any(key[start:] in text for start in range(max(1, len(key) - shortest + 1)))


def status_quotes(index: Index, question: str, named: Sequence[str]) -> tuple[str, list] | None:
    """For 《X》还有效吗？: (lead, [(passage, start, end)]) from the library: the provision that
    repealed X, or, when X is in the library and in force, the newest text that still cites it.
    None when the question asks no status or names no text."""
    from qa.text import sentence_spans

    # A status word inside quotation marks is someone's words (散布…“马上要作废”的假消息),
    # not what the question asks.
    unquoted = _SAID.sub("", question)
    status = _STATUS_ASKED.search(unquoted)
    if status is None:
        return None
    titles = {d["doc_id"]: d["title"] for d in index.titles()}
    authorities_by_doc = index.authorities()
    asked = [m.group(1) for m in _QUOTED_TITLE.finditer(question)]
    # A repealed text is not in the library, but its title is, in the text that repealed it:
    # 节能审查办法还适用吗 asks about that text, not about its successor the search names.
    plain = re.sub(r"\s+", "", question)
    # …as readers shorten it (节能审查办法 for 固定资产投资项目节能审查办法): by its tail.
    asked += [r for a in authorities_by_doc.values() for r in a.repeals
              if _names_tail(plain, authorities.title_key(r)) and r not in asked]  # fmt: skip
    asked += [titles[d] for d in named if d in titles and titles[d] not in asked]
    if not asked:
        return None
    title = asked[0]
    # 按办法，这份意见还有效吗 asks about an opinion issued under the text, not the text itself.
    subject = unquoted[max(0, status.start() - 6) : status.start()]
    subject = subject.split("被")[0]  # 办法被暂行条例废止了吗: the 条例 is who repealed it
    kinds = _KIND_WORD.findall(subject)
    if kinds and kinds[-1] not in title:
        return None
    key = authorities.title_key(title)
    target = next((d for d, t in titles.items() if authorities.title_key(t) == key), None)

    def sentences_naming(doc_ids, must: str | None) -> list[tuple[Passage, int, int]]:
        found = []
        # the title verbatim: a lexical search (the hybrid one ranked the notice citing it 20+)
        for passage in index.search(title, k=20, docs=list(doc_ids), mode="lexical"):
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
                           r"|(?:发布|印发|签署|公布|颁布|签发|落款).{0,4}(?:的是谁|的部门)"
                           r"|(?:签署|签发|落款)的?(?:总理|部长|主任|局长|主席|领导)?是谁"
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
    row = _document(index, doc_id)
    # 那个国务院令 names the text by its number
    said = "".join((row or {}).get(key) or "" for key in ("title", "doc_number", "issuer"))
    if _asks_of_content(question, said):
        return []  # 按照条例，重点排放单位名录由谁制定: who makes the 名录, not the 条例
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


# 是哪天签署公布的？ 落款日期是哪一天？ 什么时候印发的？: the date the text was signed or issued.
_SIGNED_ASKED = re.compile(
    r"(?:哪天|哪一天|什么时候|何时|哪年哪月|日期)[^，,。？?]{0,6}(?:签署|签发|公布|印发|发布|发文)"
    r"|(?:签署|签发|印发|发文|落款)(?:的)?(?:日期|时间)|落款"
)
_WHO_ASKED = re.compile(r"是谁|哪位|姓名|名字|\bwho\b", re.I)
# A line that is only a date: the one under the signature, or the 落款 at the end.
_DATE_LINE = re.compile(
    r"^[^\S\n]*(\d{4}[^\S\n]*年[^\S\n]*\d{1,2}[^\S\n]*月[^\S\n]*\d{1,2}[^\S\n]*日)[^\S\n]*$", re.M
)


def signing_date_quotes(index: Index, question: str, named: Sequence[str]) -> list:
    """For 《X》是哪天签署公布的？ / 落款日期是哪一天？: the first line of X that is only a date
    (under the signature, or the 落款 at the end), as [(passage, start, end)]."""
    # 落款签发的总理是谁 asks who signed, not when.
    if not named or not _SIGNED_ASKED.search(question) or _WHO_ASKED.search(question):
        return []
    row = _document(index, named[0])
    if row is None:
        return []
    for passage in index.document_passages(row["doc_id"], max(1, row.get("passages") or 1)):
        dated = _DATE_LINE.search(passage.text)
        if dated:
            return [(passage, *dated.span(1))]
    return []


# 改过几次, 修订过哪几次, 修正是哪年: the law's history, the lines under its title.
_AMENDMENTS_ASKED = re.compile(r"(?:改|修订|修正|修改)(?:过|了)?(?:几次|哪几次|多少次|哪些年|哪几年)"
                               r"|(?:修订|修正|修改)(?:历史|情况)|几次(?:修订|修正|修改)")  # fmt: skip
# 2015年8月29日 第十二届全国人民代表大会常务委员会第十六次会议第二次修订
_HISTORY_LINE = re.compile(r"^\s*\d{4}年\d{1,2}月\d{1,2}日[^\n。]{0,120}?(?:通过|修正|修订)\s*$")


def amendment_quotes(index: Index, question: str, named: Sequence[str]) -> list:
    """For 大气污染防治法改过几次？: every line of the named text's history (通过, 修正, 修订),
    as [(passage, start, end)]; [] when the text has none."""
    if not named or not _AMENDMENTS_ASKED.search(question):
        return []
    row = _document(index, named[0])
    if row is None:
        return []
    passages = index.document_passages(row["doc_id"], max(1, row.get("passages") or 1))
    return [(p, 0, len(p.text)) for p in passages if _HISTORY_LINE.match(p.text)]


def _document(index: Index, doc_id: str) -> dict | None:
    return next((d for d in index.documents() if d["doc_id"] == doc_id), None)


# Nouns that ask for the issuer, not for something in the text.
_ISSUER_NOUNS = frozenset(
    "部门 机关 单位 机构 总理 部长 主任 局长 主席 委员长 文件 文号 落款 署名".split()
)


def _asks_of_content(question: str, title: str) -> bool:
    """True when the question names things besides the document and its issuer (名录, 重点排放单位):
    it asks who does something under the text, not who issued it."""
    from qa.text import is_cjk, normalize, nouns

    title = normalize(title)
    return any(len(n) >= 2 and is_cjk(n[0]) and n not in title and n not in _ISSUER_NOUNS
               for n in nouns(question))  # fmt: skip


# A title the question gives: 《…》, or one dated by its year (2030年前碳达峰行动方案), which names
# one instrument, not a topic (a 年度…方案 is a plan the texts ask units to make).
_DATED_TITLE = re.compile(
    r"\d{4}年(?!度)(?:(?!的)[\u4e00-\u9fff]){2,12}?"
    r"(?:行动方案|实施方案|方案|指南|意见|办法|条例|通知|规划|决定)"
)
_CARRIED_OUT = "(?:落实|实施|执行|贯彻)"
# 2020年那个办法: a demonstrative points at the document, it is no word of its title.
_TITLE_NOISE = re.compile(
    r"（[^）]*）|\([^)]*\)|^(?:\d{4}年[前底]?)?(?:(?:那|这|该)(?:个|份|部|项|一)?)?|\s+"
)


def unheld_title(question: str, titles: Sequence[str]) -> str | None:
    """The title of a document the question asks about that the library doesn't hold, or None.

    《企业温室气体排放报告核查指南（试行）》对核查机构有什么要求？ is answered by that guide only;
    the notice that cites it says nothing of its content. A title counts as held when its words
    run, in order, through a library title or the title of a text one repeals (碳市场工作通知 →
    关于做好2025年全国碳排放权交易市场有关工作的通知); its year may go unsaid in the title."""
    asked = [m.group(1) for m in _QUOTED_TITLE.finditer(question)]
    asked += _DATED_TITLE.findall(re.sub(r"《[^》]*》", "", question))
    # 办法（试行） is said as 试行办法 too.
    held = [re.sub(r"\s+", "", t) for t in titles]
    held += [re.sub(r"(..)（([^）]+)）$", r"\2\1", t) for t in held]
    for title in asked:
        # 由哪个部门组织落实2030年前碳达峰行动方案: the text is what a held one says to carry
        # out, not the one asked about.
        if re.search(f'{_CARRIED_OUT}[“"《]?{re.escape(title)}', question):
            continue
        core = _TITLE_NOISE.sub("", title)
        if core and not any(_runs_through(core, t) for t in held):
            return title
    return None


def _runs_through(core: str, title: str) -> bool:
    position = 0
    for char in core:
        position = title.find(char, position) + 1
        if position == 0:
            return False
    return True


# What does 'conservativeness' mean (in …)? What is meant by "additionality"? the definition of X
_DEFINITION_ASKED_EN = re.compile(
    r"what does (?:the term )?['\"‘“]?([a-z][a-z -]{2,40}?)['\"’”]? mean\b"
    r"|what is meant by ['\"‘“]?([a-z][a-z -]{2,40}?)['\"’”]?(?= in\b|[?,.]|$)"
    r"|(?:definition|meaning) of ['\"‘“]?([a-z][a-z -]{2,40}?)['\"’”]?(?= in\b|[?,.]|$)"
    # How do the 2023 CCER rules define 'additionality'?
    r"|\bdefines? ['\"‘“]([a-z][a-z -]{2,40}?)['\"’”]|\bdefines? ([a-z][a-z-]{2,40})(?=\s*[?.]?$)",
    re.I,
)
_DEFINITION_ASKED = re.compile(
    r"所称的?([\u4e00-\u9fff]{2,12}?)(?=包括|是指|是什么|指什么|有哪|有什么|的含义|的定义|[，,？?])"
    r"|([\u4e00-\u9fff]{2,12}?)[”\"]?(?:的含义|的定义|是指什么|指的是什么|指的是谁|是指谁|是怎么定义的|怎么定义|如何定义"
    r"|是什么意思|什么意思)"
    r"|什么(?:是|叫)[“\"]?([\u4e00-\u9fff]{2,12}?)[”\"]?(?=[？?，,。]|$)"
)


def definition_quotes(index: Index, question: str, named: Sequence[str]) -> list:
    """For 暂行条例所称的温室气体包括哪几种？ / 碳排放配额的含义: the sentence that defines the term
    (（一）温室气体，是指…包括二氧化碳、甲烷…), in the named document when one is named, as
    [(passage, start, end)]; [] when the question asks no definition or no text gives one."""
    from qa.text import sentence_spans

    english = _DEFINITION_ASKED_EN.search(question)
    if english is not None:
        from qa.crosslingual import lookup

        # What does 'conservativeness' mean: 保守 defined as 保守性，是指…
        words = next(group for group in english.groups() if group)
        terms = sorted(lookup(words.strip()), key=len, reverse=True)
        asked = " ".join(terms[:6])
        suffix = "[\u4e00-\u9fff]?"
    else:
        match = _DEFINITION_ASKED.search(question)
        if match is None:
            return []
        asked = match.group(1) or match.group(2) or match.group(3)
        # 暂行条例中碳排放配额的含义: the term is the longest tail of the phrase a text defines.
        terms = [asked[i:] for i in range(len(asked) - 1)]
        suffix = ""
    if not terms:
        return []
    docs = list(named[:1]) or None
    passages = index.search(f"{asked} 是指 含义 以下简称{asked}", k=10, docs=docs)
    for term in terms:
        # 碳排放配额，是指… / 国家核证自愿减排量：是指… / …称为“核证自愿减排量” /
        # 申请…登记的法人或者其他组织（以下简称项目业主）
        name = re.escape(term)
        defines = re.compile(
            rf"^[（(]?[一二三四五六七八九十\d]*[）)]?{name}{suffix}[，,：:]?(?:是指|指的是)"
            if suffix else
            rf"{name}[，,：:]?(?:是指|指的是)|称为[“\"]{name}[”\"]|（以下简称[“\"]?{name}[”\"]?）"
        )  # fmt: skip
        found = [(passage, start, end) for passage in passages
                 for start, end in sentence_spans(passage.text)
                 if defines.search(passage.text[start:end])]  # fmt: skip
        if found:
            # Two texts define it (the 2023 办法 and the repealed 2020 办法): the governing one's.
            return [min(found, key=lambda q: authorities.governing_key(q[0].authority, q[0].date))]
    return []


# 陆新明担任什么职务？ 李强是什么职务？ 黄润秋是谁？: the whole question is a name and the asking.
_TITLE_ASKED = re.compile(
    r"^([\u4e00-\u9fff]{2,4}?)(?:的|现在|目前)?(?:担任|任|是)?(?:什么|何种|哪个|啥)?"
    r"(?:职务|职位|官职|头衔)(?:是什么)?[？?。]?$"
    r"|^([\u4e00-\u9fff]{2,4})是谁[？?。]?$"
)


def title_quotes(index: Index, question: str) -> list:
    """For 陆新明担任什么职务？: the first sentence that names the person beside a title
    (应对气候变化司副司长陆新明, 总理　李强), as [(passage, start, end)]; [] when the question
    asks no one's title or no text gives it. A look-up, not a judgement: the reader was never
    taught that 副司长 answers 职务, and declined it."""
    from qa.text import sentence_spans

    match = _TITLE_ASKED.search(question.strip())
    if match is None:
        return []
    name = match.group(1) or match.group(2)
    if TITLES.search(name):
        return []  # 部长是谁？ asks for a name, not a title
    title, person = f"(?:{TITLES.pattern})", re.escape(name)
    beside = re.compile(rf"{title}\s*{person}|{person}\s*{title}")
    for passage in index.search(name, k=10, mode="lexical"):
        for start, end in sentence_spans(passage.text):
            if beside.search(passage.text[start:end]):
                return [(passage, start, end)]
    return []


# Which provisions say a phrase: 哪几条规定了拒不改正的可以责令停产整治; 写了“禁止进口、销售和燃用”
# 的有哪几种燃料. The asker wants every place, not the best one.
_PROVISIONS_SAYING = re.compile(
    r"哪(?:几|些|一)条(?:款|文|规定)?(?:里|中)?(?:都|还|也)?"
    r"(?:规定了?|写了?|写有|提到了?|提及|讲了?|说了?)\s*“?([^？?”“]{4,30})"
)
_PHRASE_WRITTEN = re.compile(
    r"(?:写了?|写有|写着|提到了?|提及|出现了?)\s*“([^”]{2,30})”|“([^”]{2,30})”(?:字样|这个词|一词|的说法|的表述)"
)
_WHICH = re.compile(r"哪些|哪几|哪一|哪个|哪条|which", re.I)
# Every place is quoted up to this many; more are counted in the lead.
MAX_PLACES = 10


def phrase_quotes(index: Index, question: str, docs: Sequence[str]) -> tuple[str, list]:
    """For 哪几条规定了X / 写了“X”的有哪些: (lead, [(passage, start, end)]), the sentence of each
    passage of `docs` that says X, in reading order. X may be said with words between its parts
    (拒不改正的，按照…核减…，可以责令停产整治 says 拒不改正的可以责令停产整治). ("", []) when the
    question asks no such thing or no passage says it."""
    match = _PROVISIONS_SAYING.search(question)
    phrase = match.group(1) if match else None
    if phrase is None and _WHICH.search(question):
        written = _PHRASE_WRITTEN.search(question)
        phrase = written and (written.group(1) or written.group(2))
    pieces = [p for p in re.split(r"[的，,、\s]+", phrase or "") if len(p) >= 2]
    if not pieces:
        return "", []
    says = re.compile("[^。！？；]{0,40}?".join(re.escape(p) for p in pieces))
    sizes = {d["doc_id"]: d.get("passages") or 1 for d in index.documents()}
    found = []
    for doc_id in docs:
        for passage in index.document_passages(doc_id, max(1, sizes.get(doc_id, 1))):
            text = passage.text
            for said in says.finditer(text):
                # The whole sentence, to its 。 or the ： of a lead-in: 第二十一条　…可以责令停产整治：
                start = max(text.rfind(end, 0, said.start()) for end in "。！？：") + 1
                ends = [i for i in (text.find(end, said.end()) for end in "。！？：") if i >= 0]
                found.append((passage, start, min(ends) + 1 if ends else len(text)))
    found = list(dict.fromkeys(found))
    lead = f"共{len(found)}处，以下为前{MAX_PLACES}处：" if len(found) > MAX_PLACES else ""
    return lead, found[:MAX_PLACES]
