"""Answer quality through the Milvus store (Milvus Lite) against the local store (issue 15).

    .venv/bin/python -m bench.milvus [--index-dir DIR]

Each question set runs through two Index objects over one local index: the local folder, and a
Milvus Lite copy made by qa.milvus_sync (vectors copied, not re-embedded). Measured:

- retrieval on tests/data/retrieval_questions.yaml, scored as bench/retrieval.py scores it: hit@1
  and hit@5 per mode for each store (our z-score fusion), the share of questions whose top
  passage is the same, and Milvus' own `hybrid_search` with RRFRanker(60) and
  WeightedRanker(0.5, 0.5) over the same dense and BM25 requests;
- answers (`answer().text`, no LLM) for every question of tests/data/policy_questions.yaml and
  the CMRC 2018 sample (bench/cmrc.py's own corpus, in a second Milvus Lite file): the share that
  is identical on both stores, the policy facts and CMRC accuracy of each side;
- warm `retrieve` p50 of each store. Milvus Lite is a development engine: its latency is reported,
  not a performance reference.

Writes bench/results/milvus.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import yaml

from bench import cmrc, trust
from bench.retrieval import QUESTIONS, corpus_index, is_answer, percentile, save

RANKERS = {"rrf_60": ("RRFRanker", (60,)), "weighted_0.5_0.5": ("WeightedRanker", (0.5, 0.5))}
EXAMPLES = 10  # differing questions kept in the result file, per set


def rank(passages, question: dict, relevant: Callable = is_answer) -> int | None:
    return next((i for i, p in enumerate(passages, 1) if relevant(p, question)), None)


def hit_rates(ranks: list[int | None]) -> dict:
    return {
        "hit@1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
        "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / len(ranks), 3),
    }


def same_place(a, b) -> bool:
    """The same passage in both stores (their passage ids differ: row ids against content keys)."""
    return (a.doc_id, a.paragraph, a.text) == (b.doc_id, b.paragraph, b.text)


def milvus_hybrid(store, embedder, query: str, ranker, k: int = 10) -> list[SimpleNamespace]:
    """Milvus' own fusion: hybrid_search over the dense and BM25 requests qa.search sends."""
    from pymilvus import AnnSearchRequest

    from qa.search import CANDIDATES, MAX_QUERY_TERMS
    from qa.text import tokenize

    n = max(CANDIDATES, 3 * k)
    vector = embedder.embed_queries([query])[0]
    requests = [AnnSearchRequest(data=[vector.tolist()], anns_field="vector",
                                 param={"metric_type": "IP"}, limit=n)]  # fmt: skip
    text = " ".join(tokenize(query)[:MAX_QUERY_TERMS])  # what MilvusStore.lexical sends
    if text:
        requests.append(AnnSearchRequest(data=[text], anns_field="sparse",
                                         param={"metric_type": "BM25"}, limit=n))  # fmt: skip
    hits = store.client.hybrid_search(store._passages, requests, ranker, limit=k,
                                      output_fields=["doc_id", "text"])[0]  # fmt: skip
    return [SimpleNamespace(**h["entity"]) for h in hits]


def retrieval(local, milvus, store, questions: list[dict]) -> dict:
    """hit@1/hit@5 per mode on both stores, top-1 agreement, and Milvus' own rankers."""
    import pymilvus

    modes, agreement, differing = {}, {}, []
    for mode in ("hybrid", "dense", "lexical"):
        ranks = {"local": [], "milvus": []}
        same = []
        for q in questions:
            a, b = local.search(q["q"], k=10, mode=mode), milvus.search(q["q"], k=10, mode=mode)
            ranks["local"].append(rank(a, q))
            ranks["milvus"].append(rank(b, q))
            same.append(bool(a and b and same_place(a[0], b[0])))
            if mode == "hybrid" and not same[-1]:
                differing.append({"q": q["q"], "local_rank": ranks["local"][-1],
                                  "milvus_rank": ranks["milvus"][-1]})  # fmt: skip
        modes[mode] = {side: hit_rates(r) for side, r in ranks.items()}
        agreement[mode] = round(sum(same) / len(same), 3)
    rankers = {}
    for name, (cls, args) in RANKERS.items():
        ranker = getattr(pymilvus, cls)(*args)
        ranks = [rank(milvus_hybrid(store, milvus.embedder, q["q"], ranker), q) for q in questions]
        rankers[name] = hit_rates(ranks)
    return {
        "questions": len(questions),
        "ours": modes,
        "same_top1": agreement,
        "milvus_hybrid_search": rankers,
        "top1_differs": differing[:EXAMPLES],
    }


def latency_ms(index, questions: list[dict]) -> float:
    """Warm `retrieve` (search, k=5) p50 in ms over the questions."""
    index.search("预热", k=5)
    times = []
    for q in questions:
        started = time.perf_counter()
        index.search(q["q"], k=5)
        times.append((time.perf_counter() - started) * 1000)
    return round(percentile(times, 0.5), 1)


def compare_texts(ids: list[str], local: dict, milvus: dict) -> dict:
    differing = [i for i in ids if local[i] != milvus[i]]
    return {
        "questions": len(ids),
        "identical": len(ids) - len(differing),
        "identical_share": round(1 - len(differing) / len(ids), 3),
        "differs": differing[:EXAMPLES],
    }


def policy_answers(local, milvus) -> dict:
    """Every policy question (all splits, follow-ups with their history) on both stores."""
    questions = trust.load_questions()
    outcomes = {side: trust.run(index, questions) for side, index in
                (("local", local), ("milvus", milvus))}  # fmt: skip
    texts = {side: {o.question["id"]: o.text for o in found} for side, found in outcomes.items()}
    result = compare_texts([q["id"] for q in questions], texts["local"], texts["milvus"])
    for side, found in outcomes.items():
        table = trust.summarize(found)["all"]
        result[side] = {k: table[k] for k in ("fact", "right_doc", "wrongly_declined", "refused")}
    return result


def cmrc_answers(embedder, scratch: Path) -> dict:
    """bench/cmrc.py's corpus indexed locally and synced into a second Milvus Lite file."""
    from qa import Index, answer, build_index
    from qa.milvus_sync import sync

    indexed, held_out = cmrc.split(cmrc.load())
    answerable, unanswerable = cmrc.questions_of(indexed), cmrc.questions_of(held_out)
    corpus_dir, index_dir = scratch / "cmrc-corpus", scratch / "cmrc-index"
    cmrc.write_corpus(indexed, corpus_dir)
    report = build_index([corpus_dir], index_dir, embedder=embedder)
    uri = f"milvus://{scratch / 'cmrc.db'}"
    sync(index_dir, uri, replace=True)
    sides = {"local": Index(index_dir, embedder=embedder),
             "milvus": Index(index_dir, embedder=embedder, store=uri)}  # fmt: skip
    questions = answerable + unanswerable
    texts, result = {}, {"passages": report.passages}
    for side, index in sides.items():
        texts[side] = {q["id"]: answer(q["q"], index=index, use_llm=False).text for q in questions}
        accuracy = cmrc.answers(index, answerable, unanswerable)
        result[side] = {
            "recall@1": cmrc.retrieval(index, answerable, "hybrid")["recall@1"],
            **{k: accuracy[k] for k in ("answer_accuracy", "no_answer_precision",
                                        "no_answer_recall")},
        }  # fmt: skip
    result.update(compare_texts([q["id"] for q in questions], texts["local"], texts["milvus"]))
    for index in sides.values():
        index.close()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index-dir", type=Path, help="reuse this index of corpus/ (default: a fresh temp one)"
    )
    args = parser.parse_args(argv)
    # The store is passed explicitly; QA_STORE would turn the "local" side into Milvus too,
    # and an LLM would make answer texts differ for reasons other than the store.
    os.environ.pop("QA_STORE", None)
    os.environ.pop("QA_LLM_BASE_URL", None)
    from qa import Index
    from qa.milvus_store import MilvusStore
    from qa.milvus_sync import sync

    started = time.perf_counter()
    questions = yaml.safe_load(QUESTIONS.read_text("utf-8"))
    with tempfile.TemporaryDirectory(prefix="bench-milvus-") as scratch:
        local = corpus_index(args.index_dir, scratch)
        uri = f"milvus://{Path(scratch) / 'policy.db'}"
        export = sync(local.index_dir, uri, replace=True)
        print(export.summary(), file=sys.stderr)
        milvus = Index(local.index_dir, embedder=local.embedder, store=uri)
        store = MilvusStore(uri)
        result = {
            "engine": f"Milvus Lite {version('milvus-lite')} (pymilvus {version('pymilvus')})",
            "passages": local.size,
            "retrieval": retrieval(local, milvus, store, questions),
            "retrieve_p50_ms": {
                "local": latency_ms(local, questions),
                "milvus": latency_ms(milvus, questions),
            },
            "policy_answers": policy_answers(local, milvus),
            "cmrc": cmrc_answers(local.embedder, Path(scratch)),
        }
        store.close()
        milvus.close()
        local.close()
    same = result["policy_answers"]["identical"] + result["cmrc"]["identical"]
    total = result["policy_answers"]["questions"] + result["cmrc"]["questions"]
    result["identical_answers_all"] = round(same / total, 3)
    hybrid = result["retrieval"]["ours"]["hybrid"]
    sample = result["cmrc"]
    result["goal"] = {
        "hit@1_within_0.01": abs(hybrid["local"]["hit@1"] - hybrid["milvus"]["hit@1"]) <= 0.01,
        "cmrc_recall@1_within_0.01": abs(sample["local"]["recall@1"] - sample["milvus"]["recall@1"])
        <= 0.01,
        "identical_answers_at_least_0.95": result["identical_answers_all"] >= 0.95,
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return save("milvus", result)


if __name__ == "__main__":
    main()
