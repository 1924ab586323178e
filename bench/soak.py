"""Soak test of the served app: many concurrent `ask` clients, the server's RSS and threads.

    .venv/bin/python -m bench.soak [--clients 20] [--questions 2000] [--index-dir DIR]
                                   [--client http|gradio_client]

Starts `app.py` as a subprocess on a free loopback port (OMP/MKL threads = 2), over a copy of the
index (built from corpus/ when no --index-dir is given, or when it
holds no index yet). Each client is a thread that calls the `ask` API over plain HTTP (or, with
--client gradio_client, through its own gradio_client Client as README shows).
Questions are the `q` fields of tests/data/answer_questions.yaml and retrieval_questions.yaml,
round-robin; a repeat gets a suffix (" 2", " 3" …) so that no answer is served twice from a cache.
The server process is sampled every second (VmRSS, Threads from /proc/<pid>/status).
Writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from bench.retrieval import CORPUS, RESULTS, ROOT, percentile, save

QUESTION_FILES = [
    ROOT / "tests" / "data" / "answer_questions.yaml",
    ROOT / "tests" / "data" / "retrieval_questions.yaml",
]
CLIENTS = {
    "http": "one thread per client, plain HTTP to Gradio's REST API (/gradio_api/call/ask), loopback",
    "gradio_client": "one thread per client, each with a gradio_client.Client, loopback",
}
THREADS = "2"  # OMP/MKL threads for the server: the machine's two cores
MILESTONES = (0.25, 0.5, 0.75, 1.0)
PLATEAU_GROWTH = 0.05  # RSS growth over the second half below this: a plateau


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions() -> list[str]:
    """Round-robin over the two files: a[0], r[0], a[1], r[1], … then the longer one's rest."""
    lists = [
        [item["q"] for item in yaml.safe_load(path.read_text("utf-8"))] for path in QUESTION_FILES
    ]
    merged = []
    for i in range(max(map(len, lists))):
        merged += [qs[i] for qs in lists if i < len(qs)]
    return merged


def prepare_index(index_dir: Path | None, workdir: Path) -> tuple[Path, str]:
    """A private copy of the index for the app (its start-up sync writes to it)."""
    if index_dir is None or not (index_dir / "index.sqlite").is_file():
        from qa import build_index

        target = index_dir or workdir / "built"
        corpora = [CORPUS]
        print(f"building the index in {target} …", file=sys.stderr, flush=True)
        print(build_index(corpora, target).summary(), file=sys.stderr, flush=True)
        index_dir, how = target, "built"
    else:
        how = "reused"
    copy = workdir / "index"
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("write.lock"))
    return copy, how


def proc_status(pid: int) -> dict:
    """VmRSS (MB) and Threads of a live process; {} once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {
        "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "threads": int(fields["Threads"]),
    }


def thread_names(pid: int) -> dict[str, int]:
    names = collections.Counter()
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        with contextlib.suppress(OSError):
            names[comm.read_text().strip()] += 1
    return dict(names.most_common())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Every `interval` seconds: RSS, threads and questions done; thread names at each new peak."""

    def __init__(self, pid: int, done, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.done, self.interval = pid, done, interval
        self.samples: list[dict] = []
        self.peak_threads = 0
        self.peak_names: dict[str, int] = {}
        self.stop = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.stop.is_set():
            status = proc_status(self.pid)
            if not status:
                return
            status.update(t=round(time.monotonic() - self.started, 1), done=self.done())
            self.samples.append(status)
            if status["threads"] > self.peak_threads:
                self.peak_threads = status["threads"]
                self.peak_names = thread_names(self.pid)
            self.stop.wait(self.interval)


def start_server(index_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": THREADS,  # qa.embedding.configure_threads only sets these by default
        "MKL_NUM_THREADS": THREADS,
        "QA_ADMIN_TOKEN": "",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "app.py", "--index-dir", str(index_dir), "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip


def wait_until_serving(
    process: subprocess.Popen, url: str, log_path: Path, timeout: float = 300
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the app did not start:\n{log_path.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen) -> dict:
    """SIGTERM, as a service manager would; a kill after 30 s counts as not clean."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
        clean = True
    except subprocess.TimeoutExpired:
        process.kill()
        code, clean = process.wait(), False
    return {"clean": clean, "exit_code": code, "seconds": round(time.monotonic() - started, 1)}


class HttpClient:
    """Gradio's REST API with plain HTTP: POST the call, then read its event stream.

    gradio_client costs the client process more CPU than the server spends answering (it was
    the bottleneck with 20 clients in one process), so the soak speaks the protocol directly.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def predict(self, question: str, k: int, api_name: str) -> dict:
        endpoint = f"{self.url}/gradio_api/call{api_name}"
        body = json.dumps({"data": [question, k]}).encode()
        request = urllib.request.Request(
            endpoint, body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            event_id = json.loads(response.read())["event_id"]
        event = None
        with urllib.request.urlopen(f"{endpoint}/{event_id}", timeout=120) as stream:
            for raw in stream:
                line = raw.decode().strip()
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line.split(":", 1)[1])
                    if event == "error":
                        raise RuntimeError(f"the app answered with an error: {data}")
                    return data[0]
        raise RuntimeError(f"the event stream ended without a result (last event {event})")

    def close(self) -> None:
        pass


class Run:
    """Shared state of the clients: the next question, latencies, errors, RSS at milestones."""

    def __init__(self, pool: list[str], total: int, pid: int) -> None:
        self.pool, self.total, self.pid = pool, total, pid
        self.lock = threading.Lock()
        self.next = 0
        self.completed = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.milestones: dict[str, dict] = {}
        self.marks = {max(1, round(m * total)): f"{round(m * 100)}%" for m in MILESTONES}

    def question(self) -> str | None:
        with self.lock:
            if self.next >= self.total:
                return None
            i, self.next = self.next, self.next + 1
        text = self.pool[i % len(self.pool)]
        repeat = i // len(self.pool)
        return f"{text} {repeat + 1}" if repeat else text

    def record(self, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if error is not None:
                self.errors.append(error)
            self.completed += 1
            mark = self.marks.get(self.completed)
        if mark:
            self.milestones[mark] = {**proc_status(self.pid), "done": self.completed}

    def client(self, client) -> None:
        while (question := self.question()) is not None:
            started = time.perf_counter()
            try:
                result = client.predict(question, 5, api_name="/ask")
                error = None
                if not isinstance(result, dict) or "answer" not in result:
                    error = f"unexpected result for {question!r}: {str(result)[:200]}"
            except Exception as exc:  # every failure counts; the first messages are kept
                error = f"{type(exc).__name__}: {str(exc)[:200]} ({question!r})"
            self.record(time.perf_counter() - started, error)


def summarise_rss(samples: list[dict], start: dict, milestones: dict) -> dict:
    at = {"start": start["rss_mb"], **{k: v["rss_mb"] for k, v in milestones.items() if v}}
    half, end = milestones.get("50%", {}).get("rss_mb"), milestones.get("100%", {}).get("rss_mb")
    growth = (end - half) / half if half and end else None
    # Slope over the second half of the run, from the per-second samples (least squares).
    run = [s for s in samples if s["done"] >= (milestones.get("50%") or {}).get("done", 0)]
    run = [s for s in run if s["done"] > 0]
    slope = None
    if len(run) >= 3:
        ts, rs = [s["t"] for s in run], [s["rss_mb"] for s in run]
        mt, mr = sum(ts) / len(ts), sum(rs) / len(rs)
        var = sum((t - mt) ** 2 for t in ts)
        slope = sum((t - mt) * (r - mr) for t, r in zip(ts, rs)) / var * 60 if var else 0.0
    return {
        **{f"at_{k}": v for k, v in at.items()},
        "max": max(s["rss_mb"] for s in samples),
        "growth_second_half_pct": round(growth * 100, 2) if growth is not None else None,
        "slope_second_half_mb_per_min": round(slope, 2) if slope is not None else None,
        "plateau": growth is not None and growth < PLATEAU_GROWTH,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument(
        "--questions", type=int, default=2000, help="questions in all (default 2000)"
    )
    parser.add_argument("--index-dir", type=Path,
                        help="reuse this index (copied; built there if it holds none)")  # fmt: skip
    parser.add_argument(
        "--warm-up", type=int, default=10, help="untimed questions first (default 10)"
    )
    parser.add_argument("--client", choices=("http", "gradio_client"), default="http",
                        help="plain HTTP (default) or one gradio_client per client thread")  # fmt: skip
    args = parser.parse_args(argv)
    if args.clients < 1 or args.questions < 1:
        parser.error("--clients and --questions must be at least 1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    wall = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    index_dir, index_how = prepare_index(args.index_dir, workdir)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = workdir / "app.log"
    process = start_server(index_dir, port, log_path)
    result: dict = {}
    try:
        startup = wait_until_serving(process, url, log_path)
        print(
            f"serving on {url} after {startup:.1f} s (pid {process.pid})",
            file=sys.stderr,
            flush=True,
        )
        pool = questions()
        run = Run(pool, args.questions, process.pid)
        sampler = Sampler(process.pid, lambda: run.completed)
        sampler.start()
        clients = [
            Client(url, verbose=False) if args.client == "gradio_client" else HttpClient(url)
            for _ in range(args.clients)
        ]
        for i in range(args.warm_up):  # untimed; the first answers fill the sentence-vector cache
            clients[i % len(clients)].predict(pool[i % len(pool)], 5, api_name="/ask")
        time.sleep(1.5)
        start = {**proc_status(process.pid), "t": round(time.monotonic() - sampler.started, 1)}
        cpu_before = cpu_seconds(process.pid)
        began = time.monotonic()
        workers = [threading.Thread(target=run.client, args=(c,)) for c in clients]
        for worker in workers:
            worker.start()
        last = 0
        while any(w.is_alive() for w in workers):
            time.sleep(1)
            if run.completed - last >= 200:
                last = run.completed
                status = proc_status(process.pid)
                print(f"  {run.completed}/{args.questions} · {time.monotonic() - began:.0f} s · "
                      f"RSS {status.get('rss_mb')} MB · {status.get('threads')} threads",
                      file=sys.stderr, flush=True)  # fmt: skip
        elapsed = time.monotonic() - began
        cpu_used = cpu_seconds(process.pid) - cpu_before
        time.sleep(2)  # one or two samples after the last answer
        sampler.stop.set()
        sampler.join()
        for client in clients:
            client.close()
        ms = sorted(x * 1000 for x in run.latencies)
        samples = sampler.samples
        in_run = [s for s in samples if s["t"] >= start["t"]]
        cores = os.cpu_count() or 1
        result = {
            "clients": args.clients,
            "questions": args.questions,
            "distinct_questions": len(pool),
            "client": CLIENTS[args.client],
            "repeat_suffix": "a repeat of a question gets ' 2', ' 3' … appended",
            "index": index_how,
            "server_threads_env": {"OMP_NUM_THREADS": THREADS, "MKL_NUM_THREADS": THREADS},
            "startup_seconds": round(startup, 1),
            "run_seconds": round(elapsed, 1),
            "throughput_qps": round(len(ms) / elapsed, 2),
            "latency_ms": {
                "p50": round(percentile(ms, 0.5), 1),
                "p95": round(percentile(ms, 0.95), 1),
                "p99": round(percentile(ms, 0.99), 1),
                "max": round(ms[-1], 1),
            },
            "errors": {"count": len(run.errors), "first": run.errors[:5]},
            "server_cpu_seconds_per_question": round(cpu_used / len(ms), 3),
            "server_cpu_utilisation_pct": round(cpu_used / elapsed / cores * 100, 1),
            "rss_mb": summarise_rss(in_run, start, run.milestones),
            "threads": {
                "cores": cores,
                "at_start": start["threads"],
                "at_end": in_run[-1]["threads"] if in_run else None,
                "max": max(s["threads"] for s in samples),
                "max_over_cores": round(max(s["threads"] for s in samples) / cores, 1),
                "names_at_peak": sampler.peak_names,
            },
            "samples": len(samples),
        }
    finally:
        stopped = stop_server(process)
    result["server_stop"] = stopped
    log_text = log_path.read_text(errors="replace")
    result["server_log"] = {
        "tracebacks": log_text.count("Traceback"),
        "error_lines": sum("ERROR" in line for line in log_text.splitlines()),
    }
    result["wall_seconds"] = round(time.monotonic() - wall, 1)
    save("soak", result)
    (RESULTS / "soak-samples.json").write_text(json.dumps(sampler.samples) + "\n")
    if stopped["clean"]:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"server log kept in {log_path}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
