"""The row reads and writes a build makes inside the index writer's one transaction.

qa.writer.Writer inherits these: the documents, passages, duplicates and passage_terms rows of
qa.schema, looked up, added, moved and deleted through the writer's open connection. They only
change rows; Writer.commit writes the generation's files, and its segment carries the passages
recorded in ``_touched`` (changed in place) as well as the new ones.
"""

from __future__ import annotations

import sqlite3
import time

from qa.text import embedding_input, tokenize


class IndexRows:
    """Row operations of qa.writer.Writer; they use its ``conn`` and ``_touched``."""

    conn: sqlite3.Connection  # the writer's connection, inside its open transaction
    _touched: set[int]  # passages whose vector or terms changed in place since the last commit

    # -- reads inside the transaction
    def documents(self) -> dict[str, sqlite3.Row]:
        rows = self.conn.execute(
            "SELECT doc_id, root, path, file_sha256, text_sha256, title FROM documents"
        )
        return {row["doc_id"]: row for row in rows}

    def passage_hashes(self, doc_id: str) -> list[sqlite3.Row]:
        return list(
            self.conn.execute(
                "SELECT id, hash FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,)
            )
        )

    def vectors_by_hash(self, hashes: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            batch = unique[start : start + 500]
            rows = self.conn.execute(
                f"SELECT hash, vector FROM passages WHERE vector IS NOT NULL "
                f"AND hash IN ({','.join('?' * len(batch))})",
                batch,
            )
            found.update((row["hash"], row["vector"]) for row in rows)
        return found

    # -- writes inside the transaction
    def put_document(self, doc: dict) -> None:
        columns = ("doc_id", "root", "path", "title", "date", "source", "issuer", "doc_number",
                   "file_sha256", "text_sha256", "text", "authority")  # fmt: skip
        # An upsert, not INSERT OR REPLACE: a replace deletes the row first, and the delete
        # would cascade to the passages we are about to keep.
        updates = ", ".join(
            f"{column} = excluded.{column}" for column in (*columns[1:], "updated_at")
        )
        self.conn.execute(
            f"INSERT INTO documents ({', '.join(columns)}, updated_at) "
            f"VALUES ({', '.join('?' * len(columns))}, ?) ON CONFLICT(doc_id) DO UPDATE SET {updates}",
            [doc.get(column) for column in columns] + [time.time()],
        )

    def delete_document(self, doc_id: str) -> int:
        ids = [row["id"] for row in self.passage_hashes(doc_id)]
        self.delete_passages(ids)
        self.conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return len(ids)

    def delete_passages(self, ids: list[int]) -> None:
        """Delete passages; one that other documents repeat moves to the first of them instead."""
        for passage_id in ids:
            duplicate = self.conn.execute(
                "SELECT rowid, * FROM duplicates WHERE original_id = ? ORDER BY rowid LIMIT 1",
                (passage_id,),
            ).fetchone()
            if duplicate is None:
                self.conn.execute("DELETE FROM passage_terms WHERE rowid = ?", (passage_id,))
                self.conn.execute("DELETE FROM passages WHERE id = ?", (passage_id,))
                continue
            row = dict(duplicate)
            self._touched.add(passage_id)  # new terms (the promoted copy's title)
            self.conn.execute(
                f"UPDATE passages SET doc_id = ?, {', '.join(f'{c} = ?' for c in self.POSITION)} "
                "WHERE id = ?",
                [row["doc_id"], *(row[c] for c in self.POSITION), passage_id],
            )
            self.conn.execute("DELETE FROM duplicates WHERE rowid = ?", (row["rowid"],))
            title = self.conn.execute(
                "SELECT title FROM documents WHERE doc_id = ?", (row["doc_id"],)
            ).fetchone()[0]
            terms = " ".join(tokenize(embedding_input(title, row["heading"], row["text"])))
            self.conn.execute(
                "UPDATE passage_terms SET terms = ? WHERE rowid = ?", (terms, passage_id)
            )

    # Columns a passage row carries besides doc_id, id and vector.
    POSITION = (
        "seq",
        "paragraph",
        "paragraph_end",
        "heading",
        "char_start",
        "char_end",
        "text",
        "page",
        "locator",
        "article",
        "section",
    )

    def move_passage(self, passage_id: int, row: dict) -> None:
        """Keep an unchanged passage (and its vector) but record its new position."""
        self.conn.execute(
            f"UPDATE passages SET {', '.join(f'{c} = ?' for c in self.POSITION)} WHERE id = ?",
            [row[c] for c in self.POSITION] + [passage_id],
        )

    def add_passage(self, doc_id: str, row: dict, terms: str) -> int:
        """Insert a passage whose vector comes later (set_vector); returns its id."""
        columns = ("doc_id", *self.POSITION, "hash", "content_hash")
        cursor = self.conn.execute(
            f"INSERT INTO passages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [doc_id, *(row[c] for c in self.POSITION), row["hash"], row["content_hash"]],
        )
        self.conn.execute(
            "INSERT INTO passage_terms (rowid, terms) VALUES (?, ?)", (cursor.lastrowid, terms)
        )
        return cursor.lastrowid

    def set_vector(self, passage_id: int, vector: bytes) -> None:
        self._touched.add(passage_id)
        self.conn.execute("UPDATE passages SET vector = ? WHERE id = ?", (vector, passage_id))

    def original_of(self, content_hash: str, doc_id: str) -> int | None:
        """A passage of another document with the same normalised text, if there is one."""
        row = self.conn.execute(
            "SELECT id FROM passages WHERE content_hash = ? AND doc_id != ? ORDER BY id LIMIT 1",
            (content_hash, doc_id),
        ).fetchone()
        return row[0] if row else None

    def add_duplicate(self, doc_id: str, original_id: int, row: dict) -> None:
        columns = ("doc_id", "original_id", *self.POSITION)
        self.conn.execute(
            f"INSERT INTO duplicates ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [doc_id, original_id, *(row[c] for c in self.POSITION)],
        )

    def clear_duplicates(self, doc_id: str) -> None:
        self.conn.execute("DELETE FROM duplicates WHERE doc_id = ?", (doc_id,))

    def counts(self) -> tuple[int, int]:
        documents = self.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        passages = self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        return documents, passages
