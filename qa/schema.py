"""The SQLite schema of an index folder, its format version and the migrations between formats.

qa.store reads databases of this shape and qa.writer creates and migrates them.
"""

from __future__ import annotations

# 2: passages carry their place in the document (locator, article, section) and documents
# their authority (level, status, effective date, relations); a writer migrates 1 in place.
FORMAT_VERSION = 2
DB_NAME = "index.sqlite"
LOCK_NAME = "write.lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, root TEXT, path TEXT, title TEXT NOT NULL, date TEXT,
    source TEXT, issuer TEXT, doc_number TEXT, file_sha256 TEXT, text_sha256 TEXT,
    text TEXT NOT NULL, updated_at REAL NOT NULL, authority TEXT
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, paragraph INTEGER NOT NULL, paragraph_end INTEGER NOT NULL,
    heading TEXT, text TEXT NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
    hash TEXT NOT NULL, vector BLOB, page INTEGER, content_hash TEXT NOT NULL,
    locator TEXT, article TEXT, section TEXT
);
-- Paragraphs that repeat a passage of another document (syndicated news): stored once,
-- cited as "also published by". No foreign key on original_id: deleting an original
-- promotes its first duplicate instead (Writer.delete_passages).
CREATE TABLE IF NOT EXISTS duplicates (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    original_id INTEGER NOT NULL, seq INTEGER NOT NULL, paragraph INTEGER NOT NULL,
    paragraph_end INTEGER NOT NULL, heading TEXT, text TEXT NOT NULL,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, page INTEGER,
    locator TEXT, article TEXT, section TEXT
);
CREATE INDEX IF NOT EXISTS duplicates_original ON duplicates(original_id);
CREATE INDEX IF NOT EXISTS duplicates_doc ON duplicates(doc_id);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id, seq);
CREATE INDEX IF NOT EXISTS passages_hash ON passages(hash);
CREATE INDEX IF NOT EXISTS passages_content ON passages(content_hash);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
CREATE VIRTUAL TABLE IF NOT EXISTS passage_terms USING fts5(terms, tokenize = 'unicode61');
"""

# Format 1 → 2, in place: the columns a format 1 index lacks (its files are re-read, as the
# pipeline version changed too, which fills them).
MIGRATIONS = {
    1: (
        "ALTER TABLE documents ADD COLUMN authority TEXT",
        "ALTER TABLE passages ADD COLUMN locator TEXT",
        "ALTER TABLE passages ADD COLUMN article TEXT",
        "ALTER TABLE passages ADD COLUMN section TEXT",
        "ALTER TABLE duplicates ADD COLUMN locator TEXT",
        "ALTER TABLE duplicates ADD COLUMN article TEXT",
        "ALTER TABLE duplicates ADD COLUMN section TEXT",
    ),
}
# After SCHEMA and any migration: indexes on columns a format 1 index gains only then.
LATE_SCHEMA = "CREATE INDEX IF NOT EXISTS passages_article ON passages(doc_id, article);"
