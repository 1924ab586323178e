"""Regenerate docs/benchmarks.md from bench/results/*.json.

.venv/bin/python -m bench.report [RESULTS_DIR [OUT_FILE]]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.retrieval import RESULTS, ROOT

DOC = ROOT / "docs" / "benchmarks.md"


def _load(results: Path, name: str) -> dict | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _table(header: list[str], rows: list[list]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
        "",
    ]


def _recall_table(by_mode: dict, at_1: str, at_5: str) -> list[str]:
    return _table(["mode", "recall@1", "recall@5", "MRR@10"],
                  [[mode, f"{q[at_1]:.3f}", f"{q[at_5]:.3f}", f"{q['mrr@10']:.3f}"]
                   for mode, q in by_mode.items()])  # fmt: skip


def _answer_table(q: dict, expected: str) -> list[str]:
    return _table(["metric", "value"], [
        [expected, f"{q['answer_accuracy']:.3f}"],
        ["naive baseline: first sentence of the top passage", f"{q['naive_first_sentence_accuracy']:.3f}"],
        ["no-answer precision", f"{q['no_answer_precision']:.3f}"],
        ["no-answer recall", f"{q['no_answer_recall']:.3f}"],
        ["citations verbatim", f"{q['citation_verbatim_rate']:.3f}"],
    ])  # fmt: skip


def _retrieval(r: dict) -> list[str]:
    build = r["build"]
    return [
        f"## Retrieval: our policy set ({r['questions']} questions, {r['documents']} documents, "
        f"{r['passages']} passages)",
        "",
        *_recall_table(r["quality"], "hit@1", "hit@5"),
        f"- Cold build: {build['embedded']} passages embedded in {build['embed_seconds']} s "
        f"(**{build['passages_per_second']} passages/s**), {build['total_seconds']} s in all.",
        f"- Warm `retrieve`: p50 **{r['retrieve_ms']['p50']} ms**, "
        f"p95 {r['retrieve_ms']['p95']} ms over {r['retrieve_ms']['queries']} queries.",
        "",
    ]  # fmt: skip


def _answers(a: dict) -> list[str]:
    q = a["quality"]
    return [
        f"## Answers: our policy set ({q['questions']} questions, tests/data/answer_questions.yaml)",
        "",
        *_answer_table(q, "expected fact in `answer().text`"),
        f"- Warm `answer()`, sentence cache warm: p50 **{a['latency_warm_cache']['p50_ms']} ms**, "
        f"p95 {a['latency_warm_cache']['p95_ms']} ms.",
        f"- Warm model, sentence cache emptied before each question: p50 "
        f"{a['latency_cold_sentence_cache']['p50_ms']} ms, "
        f"p95 {a['latency_cold_sentence_cache']['p95_ms']} ms.",
        "",
    ]  # fmt: skip


def _cmrc(c: dict) -> list[str]:
    a = c["answers"]
    return [
        f"## Public set: CMRC 2018 trial sample ({c['contexts']} Wikipedia contexts, "
        f"{c['answerable_questions'] + c['unanswerable_questions']} questions)",
        "",
        "Cui et al., EMNLP 2019, CC BY-SA 4.0 (bench/data/cmrc2018_trial_sample.json). Half of the "
        f"contexts are indexed ({c['documents']} documents, {c['passages']} passages); the "
        "questions of the other half are the no-answer probes. With so few passages, retrieval is "
        "easy here; answer extraction is the informative part.",
        "",
        *_recall_table(c["retrieval"], "recall@1", "recall@5"),
        *_answer_table(a, "expected answer span in `answer().text`"),
    ]  # fmt: skip


def _scale(s: dict) -> list[str]:
    rows = []
    for r in s["sizes"]:
        cold, inc, serve = r["cold_build"], r["incremental_one_article"], r["serving"]
        rows.append([
            f"{serve['passages']:,}",
            f"{cold['seconds']:,}" + ("" if cold["real_embedding"] else " (projected)"),
            cold["passages_per_second"],
            f"{inc['seconds']} ({inc['passages_per_second']}/s)",
            f"{serve['retrieve_ms']['p50']} / {serve['retrieve_ms']['p95']}",
            f"{serve['answer_ms']['p50']} / {serve['answer_ms']['p95']}",
            serve["rss_mb"]["loaded"],
            f"{r['disk_bytes_per_passage']:,}",
            serve["load_seconds"],
            r["first_retrieve_new_process_seconds"],
        ])  # fmt: skip
    lines = [
        "## Speed and scale",
        "",
        "Corpora of recombined real policy sentences (bench/synthetic.py). The smallest is built "
        "end to end with the real model; larger ones use vectors composed from real sentence "
        "vectors, and their cold build is projected as build time without embedding + passages ÷ "
        "the measured embedding rate. Incremental: one new article of 20 passages added to the "
        "index, with the real model. Latency in ms, warm, one query at a time.",
        "",
        *_table(["passages", "cold build s", "passages/s", "+1 article s", "retrieve p50/p95",
                 "answer p50/p95", "RSS MB", "disk B/passage", "open index s",
                 "new process → first retrieve s"], rows),
    ]  # fmt: skip
    if "growth" in s:
        lines += [f"- {name}: {shape}" for name, shape in s["growth"].items()]
        lines += [f"- RAM per passage: {s['ram_bytes_per_passage']:,} bytes.", ""]
    return lines


def _faiss(f: dict) -> list[str]:
    return [
        f"## FAISS index types ({f['passages']:,} passages, {f['queries']} real queries)",
        "",
        *_table(["index", "build s", "bytes/passage", "recall@10 vs flat", "recall@50 vs flat",
                 "search p50 ms", "search p95 ms"],
                [[r["kind"], r["build_seconds"], f"{r['bytes_per_passage']:,}",
                  r["recall@10_vs_flat"], r["recall@50_vs_flat"], r["search_ms_p50"],
                  r["search_ms_p95"]] for r in f["rows"]]),
    ]  # fmt: skip


def _build(b: dict) -> list[str]:
    return [
        f"## Build speed ({b['passages']} real passages, {b['mean_chars']} characters on average, "
        f"{b['backend']})",
        "",
        *_table(["batch size", "sorted by length", "seconds", "passages/s"],
                [[r["batch_size"], "yes" if r["sorted_by_length"] else "no", r["seconds"],
                  r["passages_per_second"]] for r in b["embedding"]]),
        *_table(["build of the real corpus", "passages", "embedded", "seconds"],
                [[name, r["passages"], r["embedded"], r["seconds"]]
                 for name, r in b["builds"].items()]),
    ]  # fmt: skip


def _embedders(e: dict) -> list[str]:
    names = list(e["passages_per_second"])
    sets = list(e["passages_per_second"][names[0]])
    quality = e["quality"]

    def retrieval(name: str, mode: str) -> str:
        q = quality[name][mode]
        return f"{q['hit@1']:.3f} / {q['hit@5']:.3f} / {q['mrr@10']:.3f}"

    rows = [
        *(
            [f"embedding speed, {s} (passages/s)", *(e["passages_per_second"][n][s] for n in names)]
            for s in sets
        ),
        ["dense recall@1 / @5 / MRR@10", *(retrieval(n, "dense") for n in names)],
        ["hybrid recall@1 / @5 / MRR@10", *(retrieval(n, "hybrid") for n in names)],
        *(
            [f"answers: {label}", *(f"{quality[n]['answers'][key]:.3f}" for n in names)]
            for label, key in (
                ("expected fact", "answer_accuracy"),
                ("no-answer precision", "no_answer_precision"),
                ("no-answer recall", "no_answer_recall"),
                ("citations verbatim", "citation_verbatim_rate"),
            )
        ),
        ["RSS after loading (MB)", *(e["memory"][n]["rss_loaded_mb"] for n in names)],
        [
            "RSS after embedding the corpus (MB)",
            *(e["memory"][n]["rss_after_embedding_mb"] for n in names),
        ],
        ["imports torch", *("yes" if e["memory"][n]["torch_imported"] else "no" for n in names)],
    ]
    cosine = e["cosine_int8_vs_fp32"]
    return [
        "## Embedding backends: the bundled model as int8 ONNX against fp32 torch",
        "",
        *_table(["", *names], rows),
        f"- Cosine of int8 to fp32 vectors: passages mean {cosine['passages']['mean']} (min "
        f"{cosine['passages']['min']}), queries mean {cosine['queries']['mean']} (min "
        f"{cosine['queries']['min']}).",
        "",
    ]  # fmt: skip


def _startup(s: dict) -> list[str]:
    return [
        "## Start-up (new process, wall time)",
        "",
        *_table(["what", "median s", "max s", "runs"],
                [[name, r["median"], r["max"], r["runs"]] for name, r in s.items()]),
    ]  # fmt: skip


def _soak(s: dict) -> list[str]:
    rss, latency = s["rss_mb"], s["latency_ms"]
    return [
        f"## Soak: {s['clients']} concurrent chat clients, {s['questions']:,} questions",
        "",
        f"Against the running app: {s['client']}.",
        "",
        *_table(["metric", "value"], [
            ["latency p50 / p95 / p99 / max ms",
             f"{latency['p50']} / {latency['p95']} / {latency['p99']} / {latency['max']}"],
            ["throughput", f"{s['throughput_qps']} questions/s"],
            ["errors", s["errors"]["count"]],
            ["RSS MB at start / 25 % / 50 % / 75 % / end",
             " / ".join(str(rss[k]) for k in ("at_start", "at_25%", "at_50%", "at_75%", "at_100%"))],
            ["RSS growth over the second half", f"{rss['growth_second_half_pct']} % "
             f"({'plateau' if rss['plateau'] else 'still growing'})"],
            ["server threads (max) / cores", f"{s['threads']['max']} / {s['threads']['cores']}"],
        ]),
    ]  # fmt: skip


def _trust(t: dict) -> list[str]:
    def cell(value) -> str:
        return "—" if value is None else f"{value:.3f}"

    lines = [
        "## Answer trust: tests/data/policy_questions.yaml, per category",
        "",
        "Thresholds and weights are tuned on dev; tests/test_policy_answers.py asserts floors on "
        "test. *fact*: the expected fact in the answer; *doc* / *place*: the first citation is "
        "from the expected document / provision; *declined*: answerable questions declined; "
        "*refused*: unanswerable questions declined.",
        "",
    ]
    for split in ("dev", "test"):
        table = t.get(split)
        if not table:
            continue
        rows = [[name, row["n"], *(cell(row[k]) for k in ("fact", "right_doc", "right_place",
                 "wrongly_declined", "refused"))] for name, row in table.items() if name != "latency_ms"]  # fmt: skip
        lines += [f"**{split}**", ""]
        lines += _table(["category", "n", "fact", "doc", "place", "declined", "refused"], rows)
        lines += [
            f"Governing rule first on the conflict questions: {cell(table['all'].get('governing'))}; "
            f"quotes verbatim: {cell(table['all']['verbatim'])}; answer() p50 "
            f"{table['latency_ms']['p50']} ms, p95 {table['latency_ms']['p95']} ms.",
            "",
        ]
    return lines


def _workers(w: dict) -> list[str]:
    rows = [[r["workers"], r["threads_per_worker"], r["passages_per_second"], r["speed_up"],
             "yes" if r["bit_identical"] else f"min cosine {r['min_cosine']}"] for r in w["runs"]]  # fmt: skip
    projected = w.get("projection", {}).get("cores", {})
    return [
        f"## Embedding with `--workers N` ({w['passages']} passages, {w['cores']} cores)",
        "",
        *_table(["workers", "threads each", "passages/s", "speed-up", "bit-identical to 1"], rows),
        "Projected (not measured): "
        + "; ".join(
            f"{cores} cores ≈ {v['passages_per_second']} passages/s, {v['memory_mb']} MB"
            for cores, v in projected.items()
        )
        + ".",
        *_cpu_projection(w),
        "",
    ]


def _cpu_projection(w: dict) -> list[str]:
    cpu = w.get("projection", {}).get("from_cpu_seconds")
    lines = []
    if cpu:
        lines.append(
            f"From CPU time ({cpu['passages_per_cpu_second']} passages per CPU second): "
            + ", ".join(f"{cores} cores ≈ {v}" for cores, v in cpu["cores"].items())
            + " passages/s."
        )
    if load := w.get("load_average_before_after"):
        lines.append(
            f"Load average {load[0]}–{load[-1]} on the 2 cores while it ran (a shared machine); "
            "[scaling.md](scaling.md#worker-scaling-issue-15-4) has every run and what the "
            "projection assumes."
        )
    return lines


def _commits(c: dict) -> list[str]:
    rows = [[f"{s['passages']:,}", s["full_rewrite"]["add_seconds_median"],
             s["segments"]["add_seconds_median"]] for s in c["sizes"]]  # fmt: skip
    lines = ["## Adding one 20-passage article (median of 3, seconds)", "",
             *_table(["passages", "full rewrite (before)", "segment commit (after)"], rows)]  # fmt: skip
    big = c["sizes"][-1]
    if "retrieve_10_segments_ms" in big:
        lines += [
            f"`retrieve` p50 at {big['passages']:,} passages: {big['retrieve_merged_ms']['p50']} ms "
            f"merged, {big['retrieve_10_segments_ms']['p50']} ms with 10 unmerged segments.",
            "",
        ]
    lines += [
        "Measured on a shared machine (other benchmarks ran at the same time); "
        "[scaling.md](scaling.md#commit-cost-at-100k-passages-issue-15-3) has the profile, the "
        "figures before unchanged files were skipped, and the quieter `retrieve` run.",
        "",
    ]
    return lines


def _milvus(m: dict) -> list[str]:
    r, p, c = m["retrieval"], m["policy_answers"], m["cmrc"]
    ours, rankers = r["ours"]["hybrid"], r["milvus_hybrid_search"]
    rows = [[f"hybrid, our z-score fusion: {side}", f"{ours[side]['hit@1']:.3f}",
             f"{ours[side]['hit@5']:.3f}"] for side in ("local", "milvus")]  # fmt: skip
    rows += [[f"Milvus hybrid_search, {name}", f"{q['hit@1']:.3f}", f"{q['hit@5']:.3f}"]
             for name, q in rankers.items()]  # fmt: skip
    latency = m["retrieve_p50_ms"]
    return [
        f"## Milvus store: local against {m['engine']} ({m['passages']} passages)",
        "",
        *_table(["retrieval (tests/data/retrieval_questions.yaml)", "hit@1", "hit@5"], rows),
        *_table(["answers", "local", "Milvus", "identical answer text"], [
            [f"policy set ({p['questions']} questions): fact", f"{p['local']['fact']:.3f}",
             f"{p['milvus']['fact']:.3f}", f"{p['identical_share']:.3f}"],
            [f"CMRC sample ({c['questions']} questions): accuracy",
             f"{c['local']['answer_accuracy']:.3f}", f"{c['milvus']['answer_accuracy']:.3f}",
             f"{c['identical_share']:.3f}"],
        ]),
        f"- Same top passage: {r['same_top1']['hybrid']:.3f} of the questions; identical answers "
        f"over both sets: {m['identical_answers_all']:.3f}.",
        f"- Warm `retrieve` p50: local {latency['local']} ms, Milvus Lite {latency['milvus']} ms "
        "(a development engine, not a performance reference).",
        "",
    ]  # fmt: skip


SECTIONS = [
    ("retrieval", _retrieval),
    ("trust", _trust),
    ("answer", _answers),
    ("cmrc", _cmrc),
    ("scale", _scale),
    ("faiss", _faiss),
    ("embedders", _embedders),
    ("build", _build),
    ("workers", _workers),
    ("commits", _commits),
    ("milvus", _milvus),
    ("startup", _startup),
    ("soak", _soak),
]


def render(results: Path = RESULTS) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench.report` rewrites this file from",
        "`bench/results/*.json`). Machine: 2 CPU cores, no GPU; model multilingual-e5-small.",
        "",
    ]
    found = False
    for name, section in SECTIONS:
        data = _load(results, name)
        if data:
            lines += section(data)
            found = True
    if not found:
        lines.append("No results yet: run `make bench`.")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    results = Path(args[0]) if args else RESULTS
    out = Path(args[1]) if len(args) > 1 else DOC
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
