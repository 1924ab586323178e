#!/usr/bin/env python3
"""Start the chat app: `python app.py [--index-dir DIR] [--host H] [--port P]`."""

from qa.cli import app_main

if __name__ == "__main__":
    raise SystemExit(app_main())
