"""A deterministic stand-in for the embedding model, for tests where the model doesn't matter."""

from __future__ import annotations

import hashlib

import numpy as np

from qa.text import normalize


class FakeEmbedder:
    """Hashes character bigrams into a small vector: similar wording → similar vectors."""

    def __init__(self, dim: int = 64, model_id: str = "fake-bigram-hash") -> None:
        self.dim = dim
        self.model_id = model_id
        self.embedded: list[str] = []  # every passage text embedded, to count re-embedding

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        text = normalize(text)
        for i in range(len(text) - 1):
            digest = hashlib.blake2b(text[i : i + 2].encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % self.dim] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._vector(t) for t in texts]).astype(np.float32)

    def embed_passages(self, texts: list[str], progress=None) -> np.ndarray:
        self.embedded.extend(texts)
        if progress:
            progress(len(texts), len(texts))
        return (
            np.vstack([self._vector(t) for t in texts]).astype(np.float32)
            if texts
            else np.empty((0, self.dim), np.float32)
        )
