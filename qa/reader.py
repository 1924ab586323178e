"""Does this quote answer this question? A cross-encoder's read, one signal of the answer decision.

The cosine of a question and a passage says they are about the same thing; it can't tell that
the passage states 2024年度 when 2025年度 was asked. A cross-encoder reads both together.
None can be downloaded here, so bench/reader.py makes one: multilingual-e5-small (the embedder's
own weights) with its top four layers fine-tuned on (question, quote) pairs of the dev questions
and a linear head over the mean-pooled tokens. Two such readers are shipped, each trained on one
half of the dev questions, and their logits are averaged: the decision is fitted on each dev
question's read by the reader that didn't see it, and served with both on new questions, so the
two see the same scale (one reader retrained on all of dev read new questions lower than that).
Only what training changed is shipped, in ``qa/weights/reader-*.safetensors`` (fp16); on first use
they are joined to the converted base model and exported as one int8 ONNX graph in the model
cache, as qa.onnx_model does for the embedder. Serving needs onnxruntime and tokenizers only.

Only the real e5 embedder gets a reader: with another model (the tests' fake embedder) there is
none and the decision sees a neutral score.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.e5_convert import DEFAULT_MODEL_ID, MANIFEST_NAME, default_model_dir
from qa.embedder_base import ONNX_MODEL_ID
from qa.onnx_model import export_int8, stamped_export

WEIGHTS = tuple(sorted(Path(__file__).with_name("weights").glob("reader-*.safetensors")))
EXPORT_VERSION = 3  # bump when the export recipe changes; cached exports are then redone
MODEL_FILE = "reader.onnx"
MAX_PAIR_TOKENS = 192  # question + quote; training truncated the quote to fit the same
MAX_QUOTE_CHARS = 400
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "
READS_FOR = frozenset({DEFAULT_MODEL_ID, ONNX_MODEL_ID})


def weights_metadata(path: Path | None = None) -> dict[str, str]:
    """The training record stored with a reader's weights (layers, centre, fold, recipe); the
    first shipped reader's by default. Every shipped reader holds the same centre."""
    from safetensors import safe_open

    path = path or WEIGHTS[0]
    with safe_open(str(path), framework="numpy") as handle:
        return dict(handle.metadata() or {})


def reader_model_dir(cache_dir: str | Path | None = None) -> Path:
    """The folder of the int8 ONNX reader, exported on first use (about a minute, once)."""
    source = default_model_dir(cache_dir)
    stamp = {
        "export_version": EXPORT_VERSION,
        "weights_sha256": [hashlib.sha256(path.read_bytes()).hexdigest() for path in WEIGHTS],
        "source_manifest": json.loads((source / MANIFEST_NAME).read_text("utf-8")),
    }

    def export(folder: Path) -> list[str]:
        _export_int8(source, folder)
        shutil.copy(source / "tokenizer.json", folder / "tokenizer.json")
        return [MODEL_FILE, "tokenizer.json"]

    return stamped_export(
        source.with_name(f"{source.name}-reader-onnx-int8"),
        stamp,
        export,
        "Exporting the answer reader to ONNX int8 (one time, about a minute)",
    )


def build_torch_reader(source: Path, weights: Path | None):
    """The base model with the trained layers and head loaded (bench/reader.py trains this)."""
    import torch
    import transformers
    from transformers import AutoModel

    transformers.utils.logging.disable_progress_bar()

    class TorchReader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(source, dtype=torch.float32)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
            mask = attention_mask.unsqueeze(-1).to(hidden.last_hidden_state.dtype)
            pooled = (hidden.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head(pooled).squeeze(-1)

    model = TorchReader()
    if weights is not None:
        _load_trained(model, weights)
    return model.eval()


def build_torch_ensemble(source: Path, weights: tuple[Path, ...] | None = None):
    """The readers of `weights` as one module whose logit is the mean of theirs. The layers no
    reader trained are the embedder's in all of them, so they are run once, and only the
    trained top layers once per reader: 8 + 2 × 4 layers instead of 2 × 12."""
    import torch

    weights = weights or WEIGHTS
    members = [build_torch_reader(source, path) for path in weights]
    trunk = members[0].encoder
    first_trained = len(trunk.encoder.layer) - int(weights_metadata(weights[0])["trained_layers"])

    def run(layers, hidden, mask):
        for layer in layers:
            out = layer(hidden, attention_mask=mask)
            hidden = out[0] if isinstance(out, tuple) else out  # a tuple before transformers 5
        return hidden

    class Ensemble(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk_embeddings = trunk.embeddings
            self.trunk = torch.nn.ModuleList(trunk.encoder.layer[:first_trained])
            self.tops = torch.nn.ModuleList(
                torch.nn.ModuleList(m.encoder.encoder.layer[first_trained:]) for m in members
            )
            self.heads = torch.nn.ModuleList(m.head for m in members)

        def forward(self, input_ids, attention_mask):
            hidden = self.trunk_embeddings(input_ids=input_ids)
            # additive, broadcast over heads and query positions: padding is never attended to
            blocked = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * -1e4
            hidden = run(self.trunk, hidden, blocked)
            keep = attention_mask.unsqueeze(-1).to(hidden.dtype)
            logits = []
            for top, head in zip(self.tops, self.heads):
                last = run(top, hidden, blocked)
                pooled = (last * keep).sum(1) / keep.sum(1).clamp(min=1e-9)
                logits.append(head(pooled).squeeze(-1))
            return torch.stack(logits).mean(0)

    return Ensemble().eval()


def _load_trained(model, weights: Path) -> None:
    from safetensors.torch import load_file

    trained = {name: tensor.float() for name, tensor in load_file(str(weights)).items()}
    missing = set(trained) - set(model.state_dict())
    if missing:
        raise ValueError(f"{weights} holds tensors this model lacks: {sorted(missing)[:3]}")
    model.load_state_dict(trained, strict=False)


def _export_int8(source: Path, folder: Path) -> None:
    from transformers import AutoTokenizer

    model = build_torch_ensemble(source)
    tokenizer = AutoTokenizer.from_pretrained(source)
    # A padded pair, so that the traced graph cannot assume an all-ones mask.
    example = tokenizer([QUERY_PROMPT + "何时施行？", QUERY_PROMPT + "谁负责"],
                        [PASSAGE_PROMPT + "本条例自2024年5月1日起施行。", PASSAGE_PROMPT + "部"],
                        padding=True, return_tensors="pt")  # fmt: skip
    inputs = (example["input_ids"], example["attention_mask"])
    export_int8(model, inputs, "logit", folder / MODEL_FILE, output_axes={0: "batch"})


class Reader:
    """`score(question, quote)`: the readers' mean logit, minus the mean of their reads of the dev
    questions they didn't see (so 0 is a typical quote; higher reads as answering)."""

    def __init__(self, folder: Path, centre: float = 0.0, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_PAIR_TOKENS, strategy="only_second")
        self.centre = centre
        self._lock = threading.Lock()

    def score(self, question: str, quote: str) -> float:
        encoding = self.tokenizer.encode(
            QUERY_PROMPT + question, PASSAGE_PROMPT + quote[:MAX_QUOTE_CHARS]
        )
        ids = np.array([encoding.ids], dtype=np.int64)
        with self._lock:
            (logit,) = self.session.run(
                None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            )
        return float(logit[0]) - self.centre


@lru_cache(maxsize=2)
def _reader(cache_dir: str | None) -> Reader:
    centre = float(weights_metadata().get("centre", 0.0))
    return Reader(reader_model_dir(cache_dir), centre)


def reader_for(model_id: str, cache_dir: str | None = None) -> Reader | None:
    """The reader for an index embedded with `model_id`; None for models it wasn't made for."""
    if model_id not in READS_FOR or not WEIGHTS:
        return None
    return _reader(cache_dir)
