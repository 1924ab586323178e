#!/usr/bin/env python3
"""Build or update the paragraph index: `python index_build.py --help`."""

from qa.cli import build_main

if __name__ == "__main__":
    raise SystemExit(build_main())
