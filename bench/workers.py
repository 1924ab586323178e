"""Embedding with several processes (index_build.py --workers N): speed, equality, memory.

    .venv/bin/python -m bench.workers

Embeds every passage of corpus/ with the default model in this process (1 worker: ONNX Runtime
with one thread per core) and with 2 and 4 worker processes (each with cores // N threads, at
least 1), twice each, interleaved so that machine load hits all alike; the best run counts.
Also times one single-thread process, for the per-core rate behind the projection to 16 and
64 cores. CPU seconds (this process plus its workers) are reported beside wall-clock, as they
barely move when other jobs share the machine; the projection is also made from them. Writes
bench/results/workers.json. Run it with nothing else busy.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from pathlib import Path

import numpy as np

from bench.build_speed import passage_texts
from bench.retrieval import save

WORKERS = (1, 2, 4)
PROJECTED_CORES = (16, 64)


def cpu_seconds() -> float:
    """CPU time of this process and its live workers: unlike wall-clock, barely moved by other
    jobs on a shared machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    for child in multiprocessing.active_children():
        fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def timed(embedder, texts: list[str]) -> tuple[float, float, np.ndarray]:
    start, cpu = time.perf_counter(), cpu_seconds()
    vectors = embedder.embed_passages(texts)
    return time.perf_counter() - start, cpu_seconds() - cpu, vectors


def rss_mb(usage: int) -> float:
    return round(usage / 1024, 1)  # ru_maxrss is in KiB on Linux


def peak_worker_mb() -> float:
    """The largest peak RSS among the live workers (RUSAGE_CHILDREN would count the parent's
    pages that a child held between fork and exec)."""
    peaks = []
    for child in multiprocessing.active_children():
        status = Path(f"/proc/{child.pid}/status").read_text()
        peaks += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")]
    return rss_mb(max(peaks))


def compare(vectors: np.ndarray, reference: np.ndarray) -> dict:
    cosines = np.sum(vectors * reference, axis=1) / (
        np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1)
    )
    return {
        "bit_identical": bool(np.array_equal(vectors, reference)),
        "max_abs_diff": float(np.max(np.abs(vectors - reference))),
        "min_cosine": round(float(np.min(cosines)), 7),
    }


def projection(per_core: float, two_cores: float, worker_mb: float, parent_mb: float,
               per_cpu_second: float) -> dict:  # fmt: skip
    """Linear in cores, scaled by the efficiency measured on 2 cores; not a measurement.
    `per_cpu_second` (passages per CPU second of the 2-worker runs) gives a second projection
    that other jobs on a shared machine barely move: they stretch wall-clock, not CPU time."""
    efficiency = two_cores / (2 * per_core)
    return {
        "model": "passages/s = single-thread rate x cores x 2-core efficiency (2 workers vs 2 x "
        "one single-thread process), i.e. linear in cores until memory bandwidth or the "
        "cores' shared caches run out; memory = parent + one worker per core. A projection "
        "from this 2-core machine, not a measurement",
        "single_thread_passages_per_second": round(per_core, 1),
        "two_core_efficiency": round(efficiency, 2),
        "cores": {
            str(cores): {
                "passages_per_second": round(per_core * cores * efficiency),
                "memory_mb": round(parent_mb + cores * worker_mb),
            }
            for cores in PROJECTED_CORES
        },
        "from_cpu_seconds": {
            "model": "passages/s = passages per CPU second of the 2-worker runs x cores: every "
            "core busy embedding, as on a machine of one's own; CPU time still grows a little "
            "when other jobs share the caches",
            "passages_per_cpu_second": round(per_cpu_second, 1),
            "cores": {str(c): round(per_cpu_second * c) for c in PROJECTED_CORES},
        },
    }


def main(argv: list[str] | None = None) -> dict:
    from qa.embedding import ParallelEmbedder, load_embedder

    texts = passage_texts()
    load_before = os.getloadavg()[0]
    single = load_embedder(workers=1)
    single.embed_passages(texts[:32])  # warm-up
    embedders = {n: load_embedder(workers=n) for n in WORKERS}
    one_thread = ParallelEmbedder(single, workers=1, threads=1)
    # The first large call starts the pool: spawn, import, load the model in each worker.
    first_call = {n: timed(embedders[n], texts)[0] for n in WORKERS if n > 1}
    timed(one_thread, texts)
    best: dict[int | str, float] = {}
    best_cpu: dict[int | str, float] = {}
    vectors: dict[int, np.ndarray] = {}
    for _ in range(2):
        for name, embedder in [*embedders.items(), ("1 process, 1 thread", one_thread)]:
            seconds, cpu, vectors_now = timed(embedder, texts)
            best[name] = min(seconds, best.get(name, seconds))
            best_cpu[name] = min(cpu, best_cpu.get(name, cpu))
            if isinstance(name, int):
                vectors[name] = vectors_now
    parent_mb = rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    worker_mb = peak_worker_mb()
    for embedder in [*embedders.values(), one_thread]:
        embedder.close()
    rate = {name: len(texts) / seconds for name, seconds in best.items()}
    cores = os.cpu_count() or 1
    runs = []
    for n in WORKERS:
        runs.append({
            "workers": n,
            "threads_per_worker": cores if n == 1 else max(1, cores // n),
            "seconds": round(best[n], 2),
            "passages_per_second": round(rate[n], 1),
            "speed_up": round(rate[n] / rate[1], 2),
            "cpu_seconds": round(best_cpu[n], 2),
            "first_call_seconds": round(first_call[n], 2) if n in first_call else None,
            **compare(vectors[n], vectors[1]),
        })  # fmt: skip
    result = {
        "model": single.model_id,
        "cores": cores,
        "batch_size": single.batch_size,
        "passages": len(texts),
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "runs": runs,
        "note": "first_call_seconds includes starting the pool (spawn, imports, one model load "
        "per worker); later builds in the same process reuse it",
        "peak_rss_mb": {"parent": parent_mb, "largest_worker": worker_mb},
        "projection": projection(
            rate["1 process, 1 thread"], rate[2], worker_mb, parent_mb, len(texts) / best_cpu[2]
        ),
        "single_thread_cpu_seconds": round(best_cpu["1 process, 1 thread"], 2),
    }
    return save("workers", result)


if __name__ == "__main__":
    main()
