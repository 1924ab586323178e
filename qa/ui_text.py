"""The chat app's words and looks: every UI text in both languages, the CSS and the page script.

Kept apart from qa.webapp so the texts can be read and translated in one place.
"""

from __future__ import annotations

GENERIC_ERROR = "出错了，请稍后再试。/ Something went wrong; please try again."
BUSY = "正在更新资料库，请稍后再试。/ The library is being updated; try again in a moment."
MAX_QUESTION_CHARS = 2000  # longer questions are refused, not truncated
MAX_K = 20
MAX_HISTORY_TURNS = 20  # of the API's history; follow-ups only look at the last few

EXAMPLES = [  # when no document of the library gives one (qa.library.Library.examples)
    "中国控制甲烷排放有哪些安排？",
    "中美将建立什么工作组？",
    "联合宣言是什么时候发布的？",
    "What will China do about methane emissions?",
]

# Every text of the page, per UI language (the 中文/English switch changes them all).
UI = {
    "zh": {"title": "政策问答", "size": "{documents} 份文件 · {passages} 段",
           "intro": "就中国气候与碳市场政策提问；每句回答都引用原文段落（文件、日期、段落号）。",
           "chat_tab": "问答", "library_tab": "资料库", "chat": "对话",
           "placeholder": "输入问题，回车发送", "hint": f"回车发送，Shift+回车换行；最多 {MAX_QUESTION_CHARS} 字",
           "empty": "请输入问题：至少要有一个字或词。", "clear": "清空", "examples": "示例",
           "options": "选项", "docs": "限定文件", "from": "起始日期", "to": "截止日期",
           "date_info": "如 2024-01-01、2024/01/01、2024年1月1日 或 2024",
           "undated": "包括无日期的文件", "k": "检索段落数", "k_info": "每个问题检索多少段原文", "searched_k": "（检索 {k} 段）",
           "back": "↑ 回到回答", "error": "出错了，请稍后再试。",
           "headers": ["标题", "日期", "段落", "来源", "ID"], "token": "管理口令",
           "files": "添加文章（.html .htm .md .txt .pdf .docx，最大 20 MB）",
           "add": "添加并更新索引", "victim": "删除文件", "remove": "删除"},
    "en": {"title": "Policy QA", "size": "{documents} documents · {passages} passages",
           "intro": "Ask about China's climate and carbon-market policy, in Chinese or English; "
                    "every sentence cites its source paragraph (document, date, paragraph).",
           "chat_tab": "Chat", "library_tab": "Library", "chat": "Chat",
           "placeholder": "Ask a question, press Enter",
           "hint": f"Enter sends, Shift+Enter starts a new line; at most {MAX_QUESTION_CHARS} characters",
           "empty": "Type a question: at least one word.", "clear": "Clear",
           "examples": "Examples", "options": "Options", "docs": "Only these documents",
           "from": "From", "to": "To", "date_info": "e.g. 2024-01-01, 2024/01/01, 2024年1月1日 or 2024",
           "undated": "Include undated documents", "k": "Passages searched", "k_info": "How many source paragraphs each question searches",
           "searched_k": " ({k} passages searched)", "back": "↑ Back to the answer",
           "error": "Something went wrong; please try again.",
           "headers": ["Title", "Date", "¶", "Source", "ID"], "token": "Admin token",
           "files": "Add articles (.html .htm .md .txt .pdf .docx, up to 20 MB)",
           "add": "Add and index", "victim": "Delete a document", "remove": "Delete"},
}  # fmt: skip

# Input errors: `type` for the API, the message in the UI language ("api": English, with the
# API's own field names).
MESSAGES = {
    "zh": {"invalid_question": "问题必须是文字。", "empty_question": UI["zh"]["empty"],
           "question_too_long": f"问题超过 {MAX_QUESTION_CHARS} 字，请缩短后再问。",
           "invalid_k": f"段落数应为 1 到 {MAX_K} 之间的整数。",
           "invalid_date": "{field}“{value}”无法识别：请写成 2024-01-01、2024/01/01、2024年1月1日 或 2024。",
           "invalid_date_range": "起始日期晚于截止日期（{start} 晚于 {end}）：请对调或修改日期。",
           "invalid_documents": "限定文件应为文件 ID 的列表。",
           "unknown_document": "文件“{value}”已不在资料库中：请重新选择限定文件。",
           "invalid_in_force": "in_force 应为 true 或 false。",
           "invalid_history": "history 应为 [问题, 回答] 对的列表。"},
    "en": {"invalid_question": "question must be text, not {type_name}",
           "empty_question": "the question has no words; ask with at least one",
           "question_too_long": f"question is longer than {MAX_QUESTION_CHARS} characters; shorten it",
           "invalid_k": f"k must be an integer from 1 to {MAX_K}, not {{value}}",
           "invalid_date": "{field} {value} is not a date; write 2024-01-01, 2024/01/01, 2024年1月1日 or 2024",
           "invalid_date_range": "{field} {start} is after {field2} {end}; swap them",
           "invalid_documents": "documents must be a list of document ids, not {value}",
           "unknown_document": "document {value} is not in the library; list the ids with "
                               "`python index_build.py --list` or see the Library tab",
           "invalid_in_force": "in_force must be true or false, not {value}",
           "invalid_history": f"history must be a list of at most {MAX_HISTORY_TURNS} "
                              "[question, answer] pairs of text"},
}  # fmt: skip
FIELDS = {"zh": {"date_from": "起始日期", "date_to": "截止日期"},
          "en": {"date_from": "From", "date_to": "To"}, "api": {}}  # fmt: skip


# Colours are variables with a dark override (Gradio puts .dark on <body> when the browser
# prefers a dark scheme); each pair keeps a contrast ratio of at least 4.5 (WCAG AA).
CSS = """
:root { --qa-accent: #b4232a; --qa-mark-bg: #ffe58f; --qa-mark-fg: #1f2328;
        --qa-notice-bg: #fff7e6; --qa-notice-fg: #3d2c00; }
.dark { --qa-accent: #ffa198; --qa-mark-bg: #5c4700; --qa-mark-fg: #fff4cc;
        --qa-notice-bg: #3a2b00; --qa-notice-fg: #ffe9a8; }
/* width: a centred container would otherwise grow to its widest table on phones */
.gradio-container { max-width: 1280px !important; width: 100%; margin: 0 auto; }
#qa-top { align-items: flex-start; }
#qa-header h1 { margin-bottom: 0; font-size: 1.6rem; }
#qa-header p { margin-top: 4px; color: var(--body-text-color-subdued); }
#qa-lang { flex: 0 0 auto !important; min-width: 220px !important; }
.qa-searched { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.qa-notice { font-size: 0.85em; background: var(--qa-notice-bg); color: var(--qa-notice-fg);
             border-left: 3px solid #f0a020; padding: 4px 8px; margin-bottom: 6px; }
.qa-answer { line-height: 1.8; }
.qa-answer, .qa-card { overflow-wrap: anywhere; }
a.qa-cite { text-decoration: none; font-weight: 600; font-size: 0.8em; vertical-align: super;
            color: var(--qa-accent); padding: 0 1px; }
.qa-sources h3 { margin: 0 0 8px 0; font-size: 1rem; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
           margin-bottom: 10px; background: var(--background-fill-secondary); }
.qa-card:target { outline: 2px solid var(--qa-accent); }
.qa-card-head { font-weight: 600; }
.qa-n, .qa-repealed { color: var(--qa-accent); }
.qa-source { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 6px 0; }
.qa-text { line-height: 1.75; font-size: 0.95em; }
.qa-text mark, .qa-answer mark { background: var(--qa-mark-bg); color: var(--qa-mark-fg);
                                 padding: 0 1px; border-radius: 2px; }
.qa-also { font-size: 0.8em; margin-top: 6px; color: var(--body-text-color-subdued); }
.qa-level { font-size: 0.8em; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.qa-repealed { font-size: 0.85em; font-weight: 600; margin-bottom: 4px; }
.qa-meta { display: flex; justify-content: space-between; gap: 12px; font-size: 0.8em;
           color: var(--body-text-color-subdued); padding: 0 4px; }
.qa-warn { color: var(--qa-accent); font-weight: 600; }
#qa-count { white-space: nowrap; font-variant-numeric: tabular-nums; }
.qa-back { display: none; }
#qa-table { max-width: 100%; overflow-x: auto; }
/* Phones: the cards of the latest answer come right after the chat and its question box, and
   a sticky link leads back to the answer after a jump to a card. */
@media (max-width: 640px) {
  #qa-main { flex-direction: column; flex-wrap: nowrap; }
  #qa-left { display: contents; }
  #qa-chat { order: 1; height: 62vh !important; }
  #qa-ask { order: 2; } #qa-meta { order: 3; } #qa-right { order: 4; } #qa-examples { order: 5; }
  #qa-right { min-width: 0 !important; width: 100%; }
  .qa-back { display: block; position: sticky; bottom: 8px; width: fit-content; margin: 0 0 0 auto;
             padding: 6px 12px; border-radius: 16px; background: var(--background-fill-primary);
             border: 1px solid var(--border-color-primary); color: var(--qa-accent);
             text-decoration: none; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.2); }
}
"""

# The page script: the live character count under the question box, and a question without a
# word (empty, only punctuation) is not sent: Enter shows the hint instead.
HEAD = """<script>
(() => {
  const wordlike = /[\\p{L}\\p{N}_]/u;
  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!box.closest || !box.closest("#qa-input") || wordlike.test(box.value)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const hint = document.querySelector("#qa-meta .qa-hint");
    if (hint) { hint.textContent = hint.dataset.empty; hint.classList.add("qa-warn"); }
  }, true);
  setInterval(() => {
    const box = document.querySelector("#qa-input textarea");
    const count = document.querySelector("#qa-count");
    const text = box && `${[...box.value].length} / %(max)d`;
    if (count && text && count.textContent !== text) count.textContent = text;
  }, 250);
})();
</script>""" % {"max": MAX_QUESTION_CHARS}  # noqa: UP031 (the script's braces)

# The Library tab, per UI language.
LIBRARY = {
    "zh": {"headers": UI["zh"]["headers"], "token": UI["zh"]["token"], "files": UI["zh"]["files"],
           "add": UI["zh"]["add"], "victim": UI["zh"]["victim"], "confirm": "确认删除《{title}》",
           "meta": "元数据（上传时可选，或修改已上传的文件）", "edit_doc": "要修改的已上传文件",
           "title_field": "标题", "date_field": "日期", "issuer_field": "发文机关",
           "number_field": "文号", "level": "效力层级", "status": "时效性", "save": "保存元数据",
           "trash": "回收站", "restore": "恢复", "empty": "清空回收站",
           "choose_trash": "请先在回收站中选择文件。", "choose_edit": "请先选择要修改的文件。",
           "not_added": "未添加", "not_deleted": "未删除", "not_restored": "未恢复",
           "not_emptied": "未清空", "not_saved": "未保存",
           "disabled": "未设置登录，且服务未绑定在本机地址：不能修改资料库",
           "disabled_notice": "⚠ 未设置登录（QA_AUTH），且服务不只在本机（127.0.0.1）上提供："
                              "添加、删除、恢复和修改已停用。"},
    "en": {"headers": UI["en"]["headers"], "token": UI["en"]["token"], "files": UI["en"]["files"],
           "add": UI["en"]["add"], "victim": UI["en"]["victim"], "confirm": "Confirm: delete 《{title}》",
           "meta": "Metadata (optional on upload, or edit an uploaded document)",
           "edit_doc": "Uploaded document to edit", "title_field": "Title", "date_field": "Date",
           "issuer_field": "Issuer", "number_field": "Document number", "level": "Level",
           "status": "Status", "save": "Save metadata", "trash": "Trash", "restore": "Restore",
           "empty": "Empty the trash", "choose_trash": "Choose a document in the trash first.",
           "choose_edit": "Choose a document to edit first.", "not_added": "not added",
           "not_deleted": "not deleted", "not_restored": "not restored",
           "not_emptied": "not emptied", "not_saved": "not saved",
           "disabled": "no login is set and the app is not bound to a loopback address: "
                       "set QA_AUTH=user:password to change the library",
           "disabled_notice": "⚠ No login is set (QA_AUTH) and the app is reachable beyond this "
                              "machine: adding, deleting, restoring and editing are disabled."},
}  # fmt: skip

# Saved conversations, export, copy and feedback (qa.chat_ui), per UI language.
CONVERSATION = {
    "zh": {"list": "对话记录", "new": "新对话", "title": "新名称", "rename": "重命名",
           "delete": "删除对话", "confirm": "确认删除“{title}”", "export": "导出 Markdown",
           "earlier": "前几轮回答的来源（{n}）", "choose": "请先选择一个对话。",
           "no_title": "请输入新名称。", "long_title": "名称最多 {max} 字。",
           "renamed": "已重命名为“{title}”。", "deleted": "已删除“{title}”。",
           "not_renamed": "未重命名", "not_deleted": "未删除", "not_saved": "对话未保存",
           "comment": "反馈意见（可选：先写，再点回答下方的赞或踩）",
           "thanks": "已记录反馈（{rating}），谢谢！", "up": "有帮助", "down": "没有帮助",
           "not_rated": "未记录反馈"},
    "en": {"list": "Conversations", "new": "New conversation", "title": "New name",
           "rename": "Rename", "delete": "Delete conversation", "confirm": "Confirm: delete “{title}”",
           "export": "Export Markdown", "earlier": "Sources of earlier answers ({n})",
           "choose": "Choose a conversation first.", "no_title": "Type a new name.",
           "long_title": "Names have at most {max} characters.",
           "renamed": "Renamed to “{title}”.", "deleted": "Deleted “{title}”.",
           "not_renamed": "not renamed", "not_deleted": "not deleted",
           "not_saved": "conversation not saved",
           "comment": "Feedback (optional: write it, then click a thumb under the answer)",
           "thanks": "Feedback recorded ({rating}). Thank you!", "up": "helpful",
           "down": "not helpful", "not_rated": "feedback not recorded"},
}  # fmt: skip
