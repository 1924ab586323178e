"""The Library tab: the table, uploads with optional metadata, a confirmed delete, the trash and
metadata edits. Built inside qa.webapp.create_app's Blocks; the handlers run one write at a time
(qa.library.Library) and every failure becomes a message in the UI language.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from qa.authority import LEVELS, STATUSES
from qa.errors import IndexBusyError, QAError
from qa.library import UPLOAD_TYPES, Library, remove_gradio_copies, uploaded_files
from qa.library_text import META_FIELDS
from qa.ui_checks import gradio_hints
from qa.ui_text import BUSY, GENERIC_ERROR, LIBRARY

log = logging.getLogger(__name__)


class LibraryTab:
    """The components of the tab and their handlers; `wire()` connects them after the page's
    other components exist. `check` raises PermissionError for a write that is not allowed."""

    def __init__(self, library: Library, check: Callable[[str | None], None],
                 writes_enabled: bool, writes_public: bool) -> None:  # fmt: skip
        self.library, self.check = library, check
        self.enabled, self.public = writes_enabled, writes_public
        self.langs: OrderedDict[str, str] = OrderedDict()  # session → UI language

    # -- the UI language of a session (set by the page's language switch)
    def set_lang(self, session: str | None, lang: str) -> None:
        if session:
            self.langs[session] = lang
            self.langs.move_to_end(session)
            while len(self.langs) > 1000:
                self.langs.popitem(last=False)

    def lang(self, request) -> str:
        return self.langs.get(getattr(request, "session_hash", None) or "", "zh")

    # -- what every page load and every write sends back
    def doc_choices(self) -> list[tuple[str, str]]:
        return [(f"{d['title']} ({d['date'] or '—'})", d["doc_id"])
                for d in self.library.index.documents()]  # fmt: skip

    def upload_choices(self) -> list[tuple[str, str]]:
        return [(label, doc) for label, doc in self.doc_choices() if doc.startswith("upload/")]

    def trash_choices(self) -> list[tuple[str, str]]:
        return [(f"{e['title']} ({e.get('date') or '—'})", e["entry"])
                for e in self.library.trash.entries()]  # fmt: skip

    def state(self) -> tuple:
        """table, delete list, chat's document filter, metadata's document list, trash list; no
        list keeps a choice, so nothing is ever preselected for deletion."""
        import gradio as gr

        docs = self.doc_choices()
        return (self.library.rows(), gr.update(choices=docs, value=None),
                gr.update(choices=docs), gr.update(choices=self.upload_choices(), value=None),
                gr.update(choices=self.trash_choices(), value=None))  # fmt: skip

    def _write(self, action, token, failed: str, lang: str) -> str:
        words = LIBRARY[lang]
        try:
            if not self.enabled:
                raise PermissionError(words["disabled"])
            self.check(token)
            return action()
        except IndexBusyError:
            return BUSY
        except (ValueError, PermissionError, QAError) as error:
            return f"{words[failed]}：{self.library._shown(str(error))}"
        except Exception:
            log.exception("library change failed")
            return GENERIC_ERROR

    # -- handlers
    def upload(self, files, token, request, progress) -> tuple:
        lang = self.lang(request)
        before = {d for _, d in self.upload_choices()}
        paths = [str(getattr(f, "name", f)) for f in (files or [])]
        accepted: list[Path] = []

        def add() -> str:
            accepted.extend(uploaded_files(paths))
            return self.library.add([str(p) for p in accepted],
                                    lambda done, total: progress(done / max(total, 1)),
                                    lang=lang)  # fmt: skip

        try:
            message = self._write(add, token, "not_added", lang)
        finally:
            remove_gradio_copies(accepted)  # indexed or refused, the copy is not needed
        added = [d for _, d in self.upload_choices() if d not in before]
        return message, *self.state(), None, added  # None empties the file box

    def apply_upload_metadata(self, added, token, *values, request=None) -> tuple:
        """After an upload: the optional metadata fields, set on the files just added."""
        fields = dict(zip(META_FIELDS, values))
        if not added or not any(str(v or "").strip() for v in values):
            return (self._gr().skip(),) * 6
        lang = self.lang(request)
        lines = [self._write(lambda d=d: self.library.edit(d, fields), token, "not_saved", lang)
                 for d in added]  # fmt: skip
        return "\n\n".join(lines), *self.state()

    def choose_victim(self, doc_id, request=None) -> tuple:
        """After a choice in the delete list: the confirm button names the document."""
        gr = self._gr()
        title = next((label for label, d in self.doc_choices() if d == doc_id), None)
        if not doc_id or title is None:
            return gr.update(visible=False), ""
        label = LIBRARY[self.lang(request)]["confirm"].format(title=title.rsplit(" (", 1)[0])
        return gr.update(visible=True, value=label), doc_id

    def delete(self, doc_id, confirm, token, request=None) -> tuple:
        lang = self.lang(request)
        message = self._write(lambda: self.library.delete(doc_id, confirm), token,
                              "not_deleted", lang)  # fmt: skip
        return message, *self.state(), self._gr().update(visible=False), ""

    def restore(self, entry, token, request=None) -> tuple:
        lang = self.lang(request)
        if not entry:
            return LIBRARY[lang]["choose_trash"], *self.state()
        return (self._write(lambda: self.library.restore(entry), token, "not_restored", lang),
                *self.state())  # fmt: skip

    def empty_trash(self, token, request=None) -> tuple:
        lang = self.lang(request)
        return self._write(self.library.empty_trash, token, "not_emptied", lang), *self.state()

    def edit(self, doc_id, token, *values, request=None) -> tuple:
        lang = self.lang(request)
        if not doc_id:
            return LIBRARY[lang]["choose_edit"], *self.state()
        fields = dict(zip(META_FIELDS, values))
        return (self._write(lambda: self.library.edit(doc_id, fields), token, "not_saved", lang),
                *self.state())  # fmt: skip

    @staticmethod
    def _gr():
        import gradio as gr

        return gr

    # -- layout
    def build(self) -> None:
        gr = self._gr()
        w = LIBRARY["zh"]
        self.notice = gr.Markdown(w["disabled_notice"], visible=not self.enabled,
                                  elem_id="qa-write-notice")  # fmt: skip
        self.table = gr.Dataframe(value=[], interactive=False, wrap=True, headers=w["headers"],
                                  elem_id="qa-table")  # fmt: skip
        self.token = gr.Textbox(label=w["token"], type="password", visible=self.public)
        on = {"interactive": self.enabled}
        with gr.Row():
            self.files = gr.File(file_count="multiple", file_types=list(UPLOAD_TYPES),
                                 label=w["files"], elem_id="qa-upload", **on)  # fmt: skip
            with gr.Column():
                self.add = gr.Button(w["add"], variant="primary", elem_id="qa-add", **on)
                self.victim = gr.Dropdown(choices=[], value=None, label=w["victim"],
                                          elem_id="qa-victim", **on)  # fmt: skip
                self.confirm = gr.Button(w["confirm"], variant="stop", visible=False,
                                         elem_id="qa-confirm")  # fmt: skip
                self.confirm_id = gr.Textbox(visible=False, label="confirm")
        self.status = gr.Markdown(elem_id="qa-status")
        with gr.Accordion(w["meta"], open=False, elem_id="qa-meta-box") as self.meta_box:
            self.edit_doc = gr.Dropdown(choices=[], value=None, label=w["edit_doc"], **on)
            with gr.Row():
                self.meta = [gr.Textbox(label=w["title_field"], **on),
                             gr.Textbox(label=w["date_field"], placeholder="2024-01-31", **on),
                             gr.Textbox(label=w["issuer_field"], **on),
                             gr.Textbox(label=w["number_field"], **on),
                             gr.Dropdown(choices=list(LEVELS), value=None, label=w["level"], **on),
                             gr.Dropdown(choices=list(STATUSES), value=None, label=w["status"],
                                         **on)]  # fmt: skip
            self.save = gr.Button(w["save"], **on)
        with gr.Accordion(w["trash"], open=False), gr.Row():
            self.trash = gr.Dropdown(choices=[], value=None, label=w["trash"], elem_id="qa-trash",
                                     **on)  # fmt: skip
            self.restore_button = gr.Button(w["restore"], elem_id="qa-restore", **on)
            self.empty_button = gr.Button(w["empty"], variant="stop", **on)
        self.added = gr.State([])

    def outputs(self) -> list:
        """What state() fills, except the chat's document filter (owned by the page)."""
        return [self.table, self.victim]

    def wire(self, docs, hidden: dict, writes: Callable[[str], dict]) -> None:
        gr = self._gr()
        lists = [self.table, self.victim, docs, self.edit_doc, self.trash]
        write = {"concurrency_limit": 2, "concurrency_id": "write"}  # 2: the second is told BUSY

        @gradio_hints
        def upload(files, token, request: gr.Request, progress=gr.Progress()):  # noqa: B008
            return self.upload(files, token, request, progress)

        @gradio_hints
        def apply_metadata(added, token, title, date, issuer, number, level, status,
                           request: gr.Request):  # fmt: skip
            values = (title, date, issuer, number, level, status)
            return self.apply_upload_metadata(added, token, *values, request=request)

        @gradio_hints
        def choose(doc_id, request: gr.Request):
            return self.choose_victim(doc_id, request)

        @gradio_hints
        def delete(doc_id, confirm, token, request: gr.Request):
            return self.delete(doc_id, confirm, token, request)

        @gradio_hints
        def restore(entry, token, request: gr.Request):
            return self.restore(entry, token, request)

        @gradio_hints
        def empty(token, request: gr.Request):
            return self.empty_trash(token, request)

        @gradio_hints
        def edit(doc_id, token, title, date, issuer, number, level, status, request: gr.Request):
            values = (title, date, issuer, number, level, status)
            return self.edit(doc_id, token, *values, request=request)

        self.add.click(upload, [self.files, self.token],
                       [self.status, *lists, self.files, self.added], **write,
                       **writes("upload")).then(
            apply_metadata, [self.added, self.token, *self.meta], [self.status, *lists],
            **hidden)  # fmt: skip
        self.victim.change(choose, [self.victim], [self.confirm, self.confirm_id], **hidden)
        self.confirm.click(delete, [self.victim, self.confirm_id, self.token],
                           [self.status, *lists, self.confirm, self.confirm_id], **write,
                           **writes("delete"))  # fmt: skip
        self.restore_button.click(restore, [self.trash, self.token], [self.status, *lists],
                                  **write, **writes("restore"))  # fmt: skip
        self.empty_button.click(empty, [self.token], [self.status, *lists], **write, **hidden)
        self.save.click(edit, [self.edit_doc, self.token, *self.meta], [self.status, *lists],
                        **write, **writes("edit"))  # fmt: skip

    def relabel(self, lang: str) -> list:
        """The tab's labels in `lang`, for the page's language switch."""
        gr = self._gr()
        w = LIBRARY[lang]
        return [gr.update(value={"headers": w["headers"], "data": self.library.rows()}),
                gr.update(label=w["token"]), gr.update(label=w["files"]),
                gr.update(value=w["add"]), gr.update(label=w["victim"]),
                gr.update(value=w["disabled_notice"])]  # fmt: skip

    def relabelled(self) -> list:
        return [self.table, self.token, self.files, self.add, self.victim, self.notice]
