"""Start-up: `index_build.py --help`, the first `retrieve` in a new process, the app ready to serve.

    .venv/bin/python -m bench.startup [--index-dir DIR]

Each is the wall time of a new process (median of several runs), on the index of corpus/ +
the official texts in corpus/. Writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.retrieval import ROOT, save
from bench.soak import free_port, prepare_index, start_server, stop_server, wait_until_serving


def wall_seconds(command: list[str], runs: int) -> dict:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - start)
    return {"runs": runs, "median": round(statistics.median(times), 2), "max": round(max(times), 2)}


def app_ready_seconds(index_dir: Path, runs: int) -> dict:
    times = []
    for _ in range(runs):
        port = free_port()
        log = index_dir.parent / "app.log"
        process = start_server(index_dir, port, log)
        try:
            times.append(wait_until_serving(process, f"http://127.0.0.1:{port}/", log))
        finally:
            stop_server(process)
    return {"runs": runs, "median": round(statistics.median(times), 2), "max": round(max(times), 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, help="an index of corpus/ + the policy corpus")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        index_dir, _ = prepare_index(args.index_dir, Path(scratch))
        retrieve = (
            f"from qa import retrieve; retrieve('甲烷排放控制', index_dir={str(index_dir)!r})"
        )
        result = {
            "index_build --help": wall_seconds([sys.executable, "index_build.py", "--help"], 5),
            "first retrieve in a new process": wall_seconds([sys.executable, "-c", retrieve], 3),
            "app ready to serve": app_ready_seconds(index_dir, 2),
        }
    return save("startup", result)


if __name__ == "__main__":
    main()
