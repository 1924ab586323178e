"""Crash points for the crash-safety tests.

Setting QA_FAULT_KILL_AT=<point> makes the process SIGKILL itself when it reaches that
point, so a test can check that every interrupted build leaves a loadable index.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_embedding", "during_vector_write", "before_metadata_commit")


def kill_point(name: str) -> None:
    if os.environ.get("QA_FAULT_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
