"""Which store an index is served from: the local folder, or the Milvus store a URI names.

    milvus:///path/to/file.db     embedded Milvus Lite (a local file, no server)
    http://host:19530             a Milvus standalone or cluster (https:// too)

QA_STORE (or --store) names the URI; unset, the local index folder serves.
"""

from __future__ import annotations

import os
from pathlib import Path

from qa.store_base import Store

STORE_ENV = "QA_STORE"
MILVUS_SCHEMES = ("milvus://", "http://", "https://")


def is_uri(location: str | Path | None) -> bool:
    return isinstance(location, str) and location.startswith(MILVUS_SCHEMES)


def store_location(store: str | None = None) -> str | None:
    """The store URI asked for (argument, else QA_STORE), or None for the local index."""
    value = (store if store is not None else os.environ.get(STORE_ENV, "")).strip()
    if not value or value == "local":
        return None
    if not is_uri(value):
        raise ValueError(
            f"store {value!r} is not one of milvus:///path/file.db, http://host:19530 or "
            f"https://host:19530; leave {STORE_ENV} unset for the local index folder"
        )
    return value


def open_store(index_dir: Path, store: str | None = None) -> Store:
    """The local index at `index_dir`, or the Milvus store at the URI `store` (or QA_STORE)."""
    uri = store_location(store)
    if uri is None:
        from qa.store import Reader

        return Reader(index_dir)
    from qa.milvus_store import MilvusStore

    return MilvusStore(uri)
