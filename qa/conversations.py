"""Saved conversations: one JSON file per user key, with everything needed to show a turn again.

For the chat app (qa/webapp.py), with the store under `<index>/conversations/`:

    store = ConversationStore(index_dir / "conversations")
    user = login_key(request.username) if logged in, else a browser id from new_browser_key()
    store.list(user)                  -> [{"id", "title", "created", "updated", "turns"}], newest first
    store.create(user, title=None)    -> the new conversation (dict with "turns": [])
    store.append_turn(user, cid, answer)  -> the saved turn; a conversation created without a
                                         title takes its first question, cut to 40 characters
    store.load(user, cid)             -> {"id", "title", "created", "updated", "turns": [turn, ...]}
    store.rename(user, cid, title); store.delete(user, cid)
    to_answer(turn)                   -> a qa.answer.Answer again, for render.answer_html and
                                         render.sources_html (the same cards, quotes marked)
    export_markdown(conversation)     -> Markdown with footnotes (a "Download" button)
    plain_text(turn_record(answer))   -> the answer and its sources as plain text (a "Copy" button)

Everything a client sends is checked: user key [A-Za-z0-9_-]{1,64}, conversation ids as issued,
titles ≤ 80 characters, ≤ 200 conversations per user, ≤ 500 turns per conversation, ≤ 5 MB per
user file. A refusal is a ValueError naming the limit; an unknown conversation is a LookupError.
Writes are atomic (temp file, fsync, os.replace) and serialised by a lock per user file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:  # qa.answer pulls in the index code; the CLI need not load it
    from qa.quotes import Answer
    from qa.search import Passage

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 200
MAX_TURNS = 500
MAX_TITLE = 80
DEFAULT_TITLE = 40  # a conversation without a title is named by its first question, cut to this
MAX_FILE_BYTES = 5 * 1024 * 1024
_USER_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONVERSATION_ID = re.compile(r"[0-9a-f]{16}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_user_key(key: object) -> str:
    if not isinstance(key, str) or not _USER_KEY.fullmatch(key):
        raise ValueError(
            f"user key {str(key)[:80]!r} is not valid: use 1 to 64 characters from "
            "A-Z a-z 0-9 _ - (see login_key for login names)"
        )
    return key


def login_key(name: str) -> str:
    """A user key for a login name: the name itself when it is a valid key, else a hash of it."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]
    return name if _USER_KEY.fullmatch(name) else f"h-{digest}"


def new_browser_key() -> str:
    """A random key for a browser without a login (keep it in the browser's local storage)."""
    return secrets.token_urlsafe(24)


def clean_title(title: object) -> str:
    if not isinstance(title, str):
        raise ValueError(f"title must be text, not {type(title).__name__}")
    title = " ".join(_CONTROL.sub(" ", title).split())
    if not title:
        raise ValueError("title is empty: give the conversation a name")
    if len(title) > MAX_TITLE:
        raise ValueError(
            f"title is {len(title)} characters, over the {MAX_TITLE}-character limit: shorten it"
        )
    return title


def default_title(question: str) -> str:
    text = " ".join(_CONTROL.sub(" ", question).split()) or "…"
    return text if len(text) <= DEFAULT_TITLE else text[: DEFAULT_TITLE - 1] + "…"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class _Lock:
    __slots__ = ("__weakref__", "lock")  # threading.Lock itself can't be weakly referenced

    def __init__(self) -> None:
        self.lock = threading.Lock()


_locks: weakref.WeakValueDictionary[Path, _Lock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


class ConversationStore:
    """Conversations per user key, as JSON files in `folder` (created on first write)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, user: str) -> Path:
        key = check_user_key(user)
        # Lower case plus a digest of the exact key: Alice and alice never share a file, even on
        # a case-insensitive file system.
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.folder / f"{key.lower()}-{digest}.json"

    @contextlib.contextmanager
    def _locked(self, user: str):
        path = self.path(user).absolute()
        with _locks_guard:
            holder = _locks.get(path)
            if holder is None:
                holder = _locks[path] = _Lock()
        with holder.lock:
            yield path

    def list(self, user: str) -> list[dict]:
        with self._locked(user) as path:
            data = self._read(path, user)
        rows = [{k: c[k] for k in ("id", "title", "created", "updated")} | {"turns": len(c["turns"])}
                for c in data["conversations"]]  # fmt: skip
        # Newest first; of two updated in the same second, the one created later.
        return sorted(reversed(rows), key=lambda row: row["updated"], reverse=True)

    def create(self, user: str, title: str | None = None) -> dict:
        title = clean_title(title) if title is not None else ""
        with self._locked(user) as path:
            data = self._read(path, user)
            if len(data["conversations"]) >= MAX_CONVERSATIONS:
                raise ValueError(
                    f"user {user!r} already has {MAX_CONVERSATIONS} conversations, the limit: "
                    "delete one first"
                )
            now = _now()
            conversation = {"id": secrets.token_hex(8), "title": title, "created": now,
                            "updated": now, "turns": []}  # fmt: skip
            data["conversations"].append(conversation)
            self._write(path, user, data)
        return conversation

    def load(self, user: str, conversation_id: str) -> dict:
        with self._locked(user) as path:
            return self._find(self._read(path, user), conversation_id)

    def rename(self, user: str, conversation_id: str, title: str) -> dict:
        title = clean_title(title)
        with self._locked(user) as path:
            data = self._read(path, user)
            conversation = self._find(data, conversation_id)
            conversation["title"] = title
            conversation["updated"] = _now()
            self._write(path, user, data)
        return conversation

    def delete(self, user: str, conversation_id: str) -> None:
        with self._locked(user) as path:
            data = self._read(path, user)
            conversation = self._find(data, conversation_id)
            data["conversations"].remove(conversation)
            self._write(path, user, data)

    def append_turn(self, user: str, conversation_id: str, answer: Answer) -> dict:
        """Save `answer` (its question, text and citations) as the next turn; returns the turn."""
        turn = turn_record(answer)
        with self._locked(user) as path:
            data = self._read(path, user)
            conversation = self._find(data, conversation_id)
            if len(conversation["turns"]) >= MAX_TURNS:
                raise ValueError(
                    f"conversation {conversation_id} already has {MAX_TURNS} turns, the limit: "
                    "start a new conversation"
                )
            conversation["turns"].append(turn)
            if not conversation["title"]:
                conversation["title"] = default_title(turn["question"])
            conversation["updated"] = turn["time"]
            self._write(path, user, data)
        return turn

    @staticmethod
    def _find(data: dict, conversation_id: object) -> dict:
        if not isinstance(conversation_id, str) or not _CONVERSATION_ID.fullmatch(conversation_id):
            raise ValueError(
                f"conversation id {str(conversation_id)[:40]!r} is not valid: use an id from list()"
            )
        for conversation in data["conversations"]:
            if conversation["id"] == conversation_id:
                return conversation
        raise LookupError(f"no conversation {conversation_id}: it may have been deleted")

    @staticmethod
    def _read(path: Path, user: str) -> dict:
        fresh = {"version": 1, "user": user, "conversations": []}
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"larger than the {MAX_FILE_BYTES} byte limit")
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("user") != user or not isinstance(data.get("conversations"), list):
                raise ValueError("not a conversation file of this user")
            return data
        except FileNotFoundError:
            return fresh
        except (ValueError, AttributeError, UnicodeDecodeError) as error:
            # A damaged file must not lock its user out: keep it aside for inspection, start over.
            aside = path.with_name(f"{path.name}.damaged-{secrets.token_hex(4)}")
            os.replace(path, aside)
            log.warning("%s could not be read (%s); moved it to %s", path, error, aside.name)
            return fresh

    @staticmethod
    def _write(path: Path, user: str, data: dict) -> None:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if len(payload) > MAX_FILE_BYTES:
            raise ValueError(
                f"the conversations of user {user!r} would take {len(payload) / 2**20:.1f} MB, "
                f"over the {MAX_FILE_BYTES // 2**20} MB limit per user: delete old conversations"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable (POSIX only)
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


def _passage_record(passage: Passage) -> dict:
    from qa.render import doc_url

    auth = passage.authority
    locator = dataclasses.asdict(passage.locator) if passage.locator else None
    return {
        "doc_id": passage.doc_id, "title": passage.title, "date": passage.date,
        "source": passage.source, "issuer": passage.issuer, "doc_number": passage.doc_number,
        "provision": passage.provision, "locator": passage.locator.path() if locator else "",
        "locator_fields": locator, "paragraph": passage.paragraph,
        "paragraph_end": max(passage.paragraph, passage.paragraph_end), "page": passage.page,
        "passage_id": passage.passage_id, "level": auth.level if auth else None,
        "status": auth.status if auth else None, "effective": auth.effective if auth else None,
        "superseded_by": list(auth.superseded_by) if auth else [],
        "also_published_by": [dataclasses.asdict(r) for r in passage.also_published_by],
        "text": passage.text, "url": doc_url(passage.doc_id, passage.paragraph),
    }  # fmt: skip


def turn_record(answer: Answer) -> dict:
    """What a turn keeps of an Answer: the text, and each citation's passage, spans and quotes."""
    return {
        "time": _now(), "question": answer.question, "query": answer.query,
        "text": answer.text, "found": answer.found, "notice": answer.notice, "mode": answer.mode,
        "citations": [{"n": c.n, **_passage_record(c.passage), "spans": [list(s) for s in c.spans],
                       "quotes": list(c.quotes)} for c in answer.citations],
        "related": [_passage_record(p) for p in answer.related],
    }  # fmt: skip


def _passage(record: dict) -> Passage:
    from qa.authority import Authority
    from qa.search import Passage, Republication
    from qa.structure import Locator

    fields = record.get("locator_fields")
    authority = None
    if record.get("status"):
        authority = Authority(level=record.get("level"), status=record["status"],
                              effective=record.get("effective"),
                              superseded_by=tuple(record.get("superseded_by") or ()))  # fmt: skip
    return Passage(
        text=record["text"], doc_id=record["doc_id"], title=record["title"],
        source=record.get("source"), date=record.get("date"), paragraph=record["paragraph"],
        score=0.0, paragraph_end=record.get("paragraph_end", 0), issuer=record.get("issuer"),
        doc_number=record.get("doc_number"), passage_id=record.get("passage_id", 0),
        page=record.get("page"), authority=authority,
        locator=Locator.from_json(json.dumps(fields)) if fields else None,
        also_published_by=tuple(Republication(**r) for r in record.get("also_published_by", ())),
    )  # fmt: skip


def to_answer(turn: dict) -> Answer:
    """A saved turn as an Answer again, so qa.render draws the same bubble and source cards."""
    from qa.quotes import Answer, Citation

    citations = tuple(
        Citation(c["n"], _passage(c), tuple((int(s), int(e)) for s, e in c.get("spans", ())))
        for c in turn.get("citations", ())
    )
    return Answer(
        question=turn["question"], text=turn["text"], citations=citations,
        found=bool(turn.get("found")), query=turn.get("query") or turn["question"],
        related=tuple(_passage(p) for p in turn.get("related", ())), notice=turn.get("notice"),
        mode=turn.get("mode") or "extractive",
    )  # fmt: skip


def _citation_text(record: dict) -> str:
    """《title》第二十二条，2024-02-04，第50段: the same form as Passage.citation."""
    parts = [f"《{record['title']}》{record.get('provision') or ''}"]
    if record.get("date"):
        parts.append(record["date"])
    if record.get("page"):
        parts.append(f"第{record['page']}页")
    first, last = record["paragraph"], record.get("paragraph_end") or 0
    parts.append(f"第{first}段" if last <= first else f"第{first}–{last}段")
    return "，".join(parts)


def _source_url(record: dict) -> str | None:
    from qa.render import safe_url

    url = safe_url(record.get("source"))
    # Percent-encode what would end a Markdown autolink or break a line (spaces, <, >, quotes).
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~") if url else None


_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def escape_markdown(text: str) -> str:
    """Plain text → Markdown that shows it verbatim: no links, headings, HTML or emphasis."""
    # Runs of spaces collapse (four would start a code block); 　 and other text stay verbatim.
    return re.sub(r" {2,}", " ", _MD_SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", text)))


def _markdown_answer(text: str, numbers: set[int], turn: int) -> str:
    out = []
    for line in text.splitlines():
        pieces = []
        for part in re.split(r"(\[\d+\])", line):
            marker = re.fullmatch(r"\[(\d+)\]", part)
            if marker and int(marker.group(1)) in numbers:
                pieces.append(f"[^{turn}-{int(marker.group(1))}]")
            else:
                pieces.append(escape_markdown(part))
        if "".join(pieces).strip(" "):
            out.append("".join(pieces).strip(" "))
    return "\n\n".join(out)


def export_markdown(conversation: dict) -> str:
    """The conversation as Markdown: questions as headings, answers with footnotes [^turn-n]."""
    lines = [f"# {escape_markdown(conversation.get('title') or '对话').strip(' ')}", ""]
    for t, turn in enumerate(conversation.get("turns", ()), 1):
        citations = turn.get("citations", ())
        lines += [f"## {t}. {escape_markdown(turn['question']).strip(' ')}", ""]
        if turn.get("notice"):
            lines += [f"*{escape_markdown(turn['notice'])}*", ""]
        lines += [_markdown_answer(turn["text"], {c["n"] for c in citations}, t), ""]
        if turn.get("related"):
            lines += ["相关阅读：", ""]
            lines += [f"- {escape_markdown(_citation_text(r))}" for r in turn["related"]] + [""]
        for c in citations:
            quotes = " … ".join(escape_markdown(q) for q in c.get("quotes", ()))
            note = f"[^{t}-{c['n']}]: {escape_markdown(_citation_text(c))}"
            note += f" — “{quotes}”" if quotes else ""
            url = _source_url(c)
            lines.append(note + (f" <{url}>" if url else ""))
        if citations:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def plain_text(turn: dict) -> str:
    """An answer as plain text, its sources listed after it: what a Copy button gives."""
    parts = [turn["text"].strip()]
    if turn.get("notice"):
        parts.append(f"（{turn['notice']}）")
    sources = []
    for c in turn.get("citations", ()):
        entry = [f"[{c['n']}] {_citation_text(c)}"]
        entry += [f"    “{q}”" for q in c.get("quotes", ())]
        url = _source_url(c)
        if url:
            entry.append(f"    {url}")
        sources.append("\n".join(entry))
    if sources:
        parts.append("来源：\n" + "\n".join(sources))
    return "\n\n".join(parts) + "\n"
