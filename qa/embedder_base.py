"""What every embedder shares: the interface, the batching, and the bundled model's ids.

The lower layer of the embedding modules: qa.embedding (loading, torch, worker processes) and
qa.onnx_model (the default int8 ONNX model) both build on it, and nothing here imports them back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from qa.e5_convert import DEFAULT_MODEL_ID

BATCH_SIZE = 32  # the int8 ONNX embedder measured its own (qa.onnx_model)
ONNX_MODEL_ID = f"{DEFAULT_MODEL_ID}@onnx-int8"
MAX_SEQ_TOKENS = 512

Progress = Callable[[int, int], None]  # (done, total)


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray: ...


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

    def batches(self, texts: list[str]) -> list[list[int]]:
        """Indices into `texts`, batch by batch. Int8 activations are quantised per batch, so every
        path (in-process or in worker processes) must embed exactly these batches."""
        order = list(range(len(texts)))
        if self.sort_by_length:
            order.sort(key=lambda i: len(texts[i]))
        return [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]

    def embed_passages(
        self, texts: list[str], progress: Progress | None = None, *, encode=None
    ) -> np.ndarray:
        encode = encode or self.encode_documents
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        done = 0
        for batch in self.batches(texts):
            vectors[batch] = encode([texts[i] for i in batch])
            done += len(batch)
            if progress:
                progress(done, len(texts))
        return vectors

    def worker_loader(self, threads: int) -> tuple[Callable[..., BatchedEmbedder], tuple]:
        """How a worker process loads this same model with `threads` threads: (factory, args)."""
        raise NotImplementedError

    def prepare_documents(self, texts: list[str]) -> Any:
        """One batch as a worker process receives it (here the texts; ONNX sends token ids)."""
        return texts

    def encode_prepared(self, prepared: Any) -> np.ndarray:
        """In a worker: the vectors of a batch made by prepare_documents()."""
        return self.encode_documents(prepared)

    def close(self) -> None:
        """Nothing to release in-process; ParallelEmbedder stops its workers here."""
