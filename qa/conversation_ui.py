"""Saved conversations in the chat: the side column with the list, New, Rename, Delete (with a
confirmation) and a Markdown export, plus feedback on answers. Built inside qa.webapp.create_app's
Blocks next to the chat of qa.chat_ui.

A conversation belongs to a user key: the login name (QA_AUTH) through login_key, else a random
id kept in the browser (gr.BrowserState). It is stored under `<index>/conversations/`
(qa.conversations); feedback goes to `<index>/feedback.jsonl` (qa.feedback).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from qa.chat_ui import answer_bubble, sources_panel, text_html
from qa.conversations import (
    MAX_TITLE,
    ConversationStore,
    check_user_key,
    export_markdown,
    login_key,
    new_browser_key,
    to_answer,
)
from qa.feedback import MAX_COMMENT, add_feedback
from qa.search import Index
from qa.ui_checks import gradio_hints
from qa.ui_text import CONVERSATION

log = logging.getLogger(__name__)


def _file_name(title: str) -> str:
    """A download name from a title: no path separators or characters file systems refuse."""
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', " ", title).strip(" .")
    return (name or "conversation")[:MAX_TITLE] + ".md"


class ConversationPanel:
    """The side column of the chat: saved conversations and what acts on them. `build()` lays it
    out, `wire()` connects it to the chat once the chat's components exist."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.store = ConversationStore(Path(index.index_dir) / "conversations")
        self.exports: Path | None = None  # a temp folder: Gradio serves downloads from there

    # -- whose conversations
    @staticmethod
    def user(key: object, request) -> str:
        """The login's key when there is a login, else the browser's (ValueError if invalid)."""
        name = getattr(request, "username", None)
        return login_key(name) if name else check_user_key(key)

    # -- what the page shows of a conversation
    def choices(self, user: str) -> list[tuple[str, str]]:
        return [(row["title"] or "…", row["id"]) for row in self.store.list(user)]

    def entries(self, conversation: dict) -> list[tuple]:
        return [(t["question"], t["text"], t, 2 * n + 1)
                for n, t in enumerate(conversation["turns"])]  # fmt: skip

    def shown(self, conversation: dict, lang: str) -> tuple[list, list, str]:
        """chat, turns and sources of a saved conversation, every turn's [n] with its card."""
        entries = self.entries(conversation)
        chat = []
        for n, (question, _, turn, _) in enumerate(entries):
            chat.append({"role": "user", "content": text_html(question)})
            chat.append({"role": "assistant", "content": answer_bubble(to_answer(turn), n, lang)})
        sources = ""
        if entries:
            sources = sources_panel(to_answer(entries[-1][2]), len(entries) - 1, lang, None,
                                    entries[:-1])  # fmt: skip
        return chat, entries, sources

    def export_file(self, user: str, conversation: dict) -> str:
        """The conversation as a Markdown file in a temp folder, named by its title."""
        if self.exports is None:
            self.exports = Path(tempfile.mkdtemp(prefix="qa-exports-"))
        digest = hashlib.sha256(f"{user}/{conversation['id']}".encode()).hexdigest()[:16]
        folder = self.exports / digest
        folder.mkdir(exist_ok=True)
        path = folder / _file_name(conversation["title"] or conversation["id"])
        for old in folder.iterdir():  # a renamed conversation leaves no stale file behind
            if old != path:
                with contextlib.suppress(OSError):
                    old.unlink()
        temp = path.with_name(f".{os.getpid()}-{id(conversation)}.tmp")
        temp.write_text(export_markdown(conversation), encoding="utf-8")
        os.replace(temp, path)
        return str(path)

    def _view(self, user: str, conversation: dict | None, lang: str) -> tuple:
        """(list, current id for the browser, export button) for `conversation` (None: a new one)."""
        import gradio as gr

        cid = conversation["id"] if conversation else None
        export = (gr.update(value=self.export_file(user, conversation), interactive=True)
                  if conversation and conversation["turns"]
                  else gr.update(value=None, interactive=False))  # fmt: skip
        return gr.update(choices=self.choices(user), value=cid), cid or "", export

    # -- handlers (the user's key comes from the browser or the login)
    def restore(self, key, current, request=None) -> tuple:
        """On page load: the browser's key (a new one the first time), the list and the
        conversation open last (else the newest), shown as it was."""
        if not getattr(request, "username", None):
            try:
                check_user_key(key)
            except ValueError:
                key = new_browser_key()
        user = self.user(key, request)
        try:
            ids = [row["id"] for row in self.store.list(user)]
            cid = current if current in ids else (ids[0] if ids else None)
            conversation = self.store.load(user, cid) if cid else None
        except (OSError, ValueError, LookupError):
            log.exception("conversations of %s could not be read", user)
            conversation = None
        chat, entries, sources = self.shown(conversation, "zh") if conversation else ([], [], "")
        return key, *self._view(user, conversation, "zh"), chat, entries, sources

    def save(self, key, cid, turns, lang, request=None) -> tuple:
        """After an answer: the turns not yet saved go to the open conversation (a new one when
        none is open). Returns the list, the current id, the export button and a status."""
        import gradio as gr

        lang = lang if lang in CONVERSATION else "zh"
        entries = list(turns or [])
        if not entries:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            user = self.user(key, request)
            try:
                conversation = self.store.load(user, cid) if cid else None
            except (LookupError, ValueError):  # deleted in another tab: start a new one
                conversation = None
            if conversation is None:
                conversation = self.store.create(user)
            for entry in entries[len(conversation["turns"]) :]:
                self.store.append_turn(user, conversation["id"], to_answer(entry[2]))
            conversation = self.store.load(user, conversation["id"])
            return *self._view(user, conversation, lang), ""
        except (ValueError, OSError) as error:
            log.warning("conversation not saved: %s", error)
            return gr.skip(), gr.skip(), gr.skip(), f"{CONVERSATION[lang]['not_saved']}：{error}"

    def reset(self) -> tuple:
        """New conversation, the chat's clear icon and the Clear button: nothing of the old
        conversation stays (history, cards, follow-up context); the saved one stays listed."""
        import gradio as gr

        return ([], [], "", gr.update(value=None), "", gr.update(value=None, interactive=False),
                gr.update(visible=False), "")  # fmt: skip

    def select(self, key, cid, lang, request=None) -> tuple:
        import gradio as gr

        lang = lang if lang in CONVERSATION else "zh"
        try:
            user = self.user(key, request)
            conversation = self.store.load(user, cid)
        except (ValueError, LookupError) as error:
            return (*(gr.skip(),) * 5, gr.update(visible=False), str(error))
        chat, entries, sources = self.shown(conversation, lang)
        _, current, export = self._view(user, conversation, lang)
        return chat, entries, sources, current, export, gr.update(visible=False), ""

    def rename(self, key, cid, title, lang, request=None) -> tuple:
        """(list, export button, status, name box)."""
        import gradio as gr

        w = CONVERSATION[lang if lang in CONVERSATION else "zh"]
        title = " ".join(str(title or "").split())
        if not cid:
            return gr.skip(), gr.skip(), w["choose"], gr.skip()
        if not title or len(title) > MAX_TITLE:
            message = w["no_title"] if not title else w["long_title"].format(max=MAX_TITLE)
            return gr.skip(), gr.skip(), message, gr.skip()
        try:
            user = self.user(key, request)
            conversation = self.store.rename(user, cid, title)
        except (ValueError, LookupError) as error:
            return gr.skip(), gr.skip(), f"{w['not_renamed']}：{error}", gr.skip()
        convs, _, export = self._view(user, conversation, lang)
        return convs, export, w["renamed"].format(title=conversation["title"]), ""

    def ask_delete(self, key, cid, lang, request=None) -> tuple:
        """The confirm button, naming the conversation, and the id it will delete."""
        import gradio as gr

        w = CONVERSATION[lang if lang in CONVERSATION else "zh"]
        try:
            title = self.store.load(self.user(key, request), cid)["title"] if cid else None
        except (ValueError, LookupError) as error:
            return gr.update(visible=False), "", str(error)
        if title is None:
            return gr.update(visible=False), "", w["choose"]
        return gr.update(visible=True, value=w["confirm"].format(title=title)), cid, ""

    def delete(self, key, pending, lang, request=None) -> tuple:
        """(chat, turns, sources, list, current id, export, confirm button, status)."""
        import gradio as gr

        w = CONVERSATION[lang if lang in CONVERSATION else "zh"]
        try:
            user = self.user(key, request)
            title = self.store.load(user, pending)["title"]
            self.store.delete(user, pending)
        except (ValueError, LookupError) as error:
            return (*(gr.skip(),) * 6, gr.update(visible=False), f"{w['not_deleted']}：{error}")
        chat, turns, sources, _, current, export, confirm, _ = self.reset()
        convs = gr.update(choices=self.choices(user), value=None)
        done = w["deleted"].format(title=title)
        return chat, turns, sources, convs, current, export, confirm, done

    def like(self, key, turns, comment, lang, index, liked, request=None) -> tuple:
        """A thumb on an answer: one feedback record (question, answer, cited passages)."""
        import gradio as gr

        w = CONVERSATION[lang if lang in CONVERSATION else "zh"]
        entry = next((e for e in turns or () if len(e) > 3 and e[3] == index), None)
        if liked not in (True, False) or entry is None:  # un-liking, or not an answer
            return gr.skip(), gr.skip()
        try:
            try:
                user = self.user(key, request)
            except ValueError:
                user = None
            add_feedback(self.index.index_dir, entry[2], 1 if liked else -1, comment or "", user)
        except (ValueError, OSError) as error:
            return gr.skip(), f"{w['not_rated']}：{error}"
        return "", w["thanks"].format(rating=w["up" if liked else "down"])

    # -- layout and wiring
    def build(self) -> None:
        import gradio as gr

        w = CONVERSATION["zh"]
        with gr.Column(scale=1, min_width=200, elem_id="qa-side"):
            self.new = gr.Button(w["new"], size="sm", elem_id="qa-new")
            self.list = gr.Radio(choices=[], value=None, label=w["list"], elem_id="qa-convs")
            self.title = gr.Textbox(label=w["title"], max_length=MAX_TITLE, elem_id="qa-title")
            with gr.Row():
                self.rename_button = gr.Button(w["rename"], size="sm", elem_id="qa-rename")
                self.delete_button = gr.Button(w["delete"], size="sm", elem_id="qa-delete")
            self.confirm = gr.Button(w["confirm"], variant="stop", visible=False, size="sm",
                                     elem_id="qa-conv-confirm")  # fmt: skip
            self.export = gr.DownloadButton(w["export"], value=None, interactive=False, size="sm",
                                            elem_id="qa-export")  # fmt: skip
            self.comment = gr.Textbox(label=w["comment"], lines=2, max_lines=6,
                                      max_length=MAX_COMMENT, elem_id="qa-comment")  # fmt: skip
            self.status = gr.Markdown(elem_id="qa-conv-status")
        # BrowserState sends its secret to the page, so it is no secret: it only has to stay the
        # same across restarts, or every browser's saved key would become unreadable.
        secret = hashlib.sha256(f"policy-qa:{Path(self.index.index_dir).resolve()}".encode())
        self.key = gr.BrowserState("", storage_key="policy-qa-user", secret=secret.hexdigest())
        self.current = gr.BrowserState("", storage_key="policy-qa-conversation",
                                       secret=secret.hexdigest())  # fmt: skip
        self.pending = gr.State("")

    def wire(self, app, chatbot, turns, sources, lang, answered, clear, hidden: dict) -> None:
        """`answered`: the chat's submit event (its turns are saved after it); `clear`: the
        page's Clear button."""
        import gradio as gr

        @gradio_hints
        def restore(key, current, request: gr.Request):
            return self.restore(key, current, request)

        @gradio_hints
        def save(key, cid, turns, lang, request: gr.Request):
            return self.save(key, cid, turns, lang, request)

        @gradio_hints
        def select(key, cid, lang, request: gr.Request):
            return self.select(key, cid, lang, request)

        @gradio_hints
        def rename(key, cid, title, lang, request: gr.Request):
            return self.rename(key, cid, title, lang, request)

        @gradio_hints
        def ask_delete(key, cid, lang, request: gr.Request):
            return self.ask_delete(key, cid, lang, request)

        @gradio_hints
        def delete(key, pending, lang, request: gr.Request):
            return self.delete(key, pending, lang, request)

        @gradio_hints
        def like(key, turns, comment, lang, data: gr.LikeData, request: gr.Request):
            return self.like(key, turns, comment, lang, data.index, data.liked, request)

        view = [self.list, self.current, self.export]
        cleared = [chatbot, turns, sources, *view[:2], self.export, self.confirm, self.status]
        app.load(restore, [self.key, self.current], [self.key, *view, chatbot, turns, sources],
                 **hidden)  # fmt: skip
        answered.then(save, [self.key, self.list, turns, lang], [*view, self.status], **hidden)
        for event in (chatbot.clear, clear.click, self.new.click):
            event(self.reset, None, cleared, **hidden)
        self.list.input(select, [self.key, self.list, lang],
                        [chatbot, turns, sources, self.current, self.export, self.confirm,
                         self.status], **hidden)  # fmt: skip
        renamed = [self.list, self.export, self.status, self.title]
        for event in (self.rename_button.click, self.title.submit):
            event(rename, [self.key, self.list, self.title, lang], renamed, **hidden)
        self.delete_button.click(ask_delete, [self.key, self.list, lang],
                                 [self.confirm, self.pending, self.status], **hidden)  # fmt: skip
        self.confirm.click(delete, [self.key, self.pending, lang],
                           [chatbot, turns, sources, *view, self.confirm, self.status],
                           **hidden)  # fmt: skip
        chatbot.like(like, [self.key, turns, self.comment, lang], [self.comment, self.status],
                     **hidden)  # fmt: skip

    def relabel(self, lang: str) -> list:
        """The column's labels in `lang`, for the page's language switch."""
        import gradio as gr

        w = CONVERSATION[lang]
        return [gr.update(value=w["new"]), gr.update(label=w["list"]),
                gr.update(label=w["title"]), gr.update(value=w["rename"]),
                gr.update(value=w["delete"]), gr.update(visible=False),
                gr.update(label=w["export"]), gr.update(label=w["comment"])]  # fmt: skip

    def relabelled(self) -> list:
        return [self.new, self.list, self.title, self.rename_button, self.delete_button,
                self.confirm, self.export, self.comment]  # fmt: skip
