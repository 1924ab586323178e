"""The benchmark report entry point still runs (the benchmarks themselves stay out of pytest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench import report

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


def test_report_renders_the_committed_results(tmp_path):
    for name in ("retrieval", "answer"):
        shutil.copy(RESULTS / f"{name}.json", tmp_path / f"{name}.json")
    out = tmp_path / "benchmarks.md"
    report.main([str(tmp_path), str(out)])
    text = out.read_text(encoding="utf-8")
    hybrid = json.loads((tmp_path / "retrieval.json").read_text())["quality"]["hybrid"]
    assert f"| hybrid | {hybrid['hit@1']:.3f} |" in text
    assert "no-answer recall" in text and "naive baseline" in text


def test_report_without_results_says_how_to_get_them(tmp_path):
    assert "run `make bench`" in report.render(tmp_path)
