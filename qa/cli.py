"""Command-line shells over the library. Heavy imports happen inside the commands, so --help is instant."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _index_dir_help() -> str:
    return "index folder (default: $QA_INDEX_DIR, else .index/ in the checkout)"


_STORE_HELP = (
    "search a Milvus store instead of the index folder: milvus:///path/file.db (Milvus Lite) "
    "or http://host:19530; default: $QA_STORE"
)


def _workers(text: str) -> int:
    """--workers: a whole number ≥ 1 (checked here, before any work starts)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of processes, at least 1, not {text!r}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="index_build.py",
        description="Build or update the paragraph index from corpus folders. Only new or changed "
        "paragraphs are embedded.",
    )
    parser.add_argument("--corpus", action="append", type=Path, metavar="DIR",
                        help="corpus folder; repeat for several (default: corpus/)")  # fmt: skip
    parser.add_argument("--index-dir", type=Path, metavar="DIR", help=_index_dir_help())
    parser.add_argument(
        "--rebuild", action="store_true", help="drop the index and embed everything again"
    )
    parser.add_argument("--remove", action="append", metavar="DOC",
                        help="remove a document by doc id or file path; repeatable")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the indexed documents and exit")
    parser.add_argument("--model", metavar="NAME_OR_PATH",
                        help="sentence-transformers model name or folder (default: $QA_EMBED_MODEL, "
                        "else the bundled multilingual-e5-small)")  # fmt: skip
    parser.add_argument("--vector-index", choices=("flat", "hnsw"),
                        help="FAISS index type: flat (exact; default) or hnsw (approximate, for "
                        "millions of passages); default: $QA_VECTOR_INDEX, else what the index "
                        "has")  # fmt: skip
    parser.add_argument("--url", action="append", default=[], metavar="URL",
                        help="fetch a web page, extract its article and index it; repeatable")  # fmt: skip
    parser.add_argument("--url-file", type=Path, metavar="FILE", help="file of URLs, one per line")
    parser.add_argument("--allow-private", action="store_true",
                        help="allow URLs on private or loopback addresses")  # fmt: skip
    parser.add_argument("--workers", type=_workers, metavar="N",
                        help="embedding processes; default: the number of cores")  # fmt: skip
    parser.add_argument("--merge", action="store_true",
                        help="fold the index's segments and deletions into one base after the "
                        "update (done automatically past 10 segments or 10%% deleted)")  # fmt: skip
    parser.add_argument("--store", metavar="URI",
                        help="also keep a Milvus store in sync with the index: "
                        "milvus:///path/file.db (Milvus Lite) or http://host:19530; default: "
                        "$QA_STORE, else none")  # fmt: skip
    parser.add_argument("--export-to", metavar="URI",
                        help="copy the index, vectors included, into a new collection of the "
                        "Milvus store at URI, swap its alias to it and exit (no re-embedding)")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def build_main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from qa.errors import QAError

    try:
        _use_store(args.store)
        if args.list:
            return _list(args.index_dir)
        if args.export_to:
            return _export(args.index_dir, args.export_to)
        if args.remove:
            from qa.build import remove_documents

            report = remove_documents(args.remove, args.index_dir)
        else:
            report = _build(args)
    except (QAError, ValueError) as error:  # ValueError: a bad setting such as QA_VECTOR_INDEX
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the index was left as it was", file=sys.stderr)
        return 130
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary())
    return 0


def _use_store(store: str | None) -> None:
    """--store is QA_STORE for this process: every write (build, remove, the app's Library)
    syncs to it, and searches read from it."""
    import os

    from qa.stores import STORE_ENV, store_location

    if store is not None:
        os.environ[STORE_ENV] = store_location(store) or ""


def _export(index_dir: Path | None, uri: str) -> int:
    from qa.build import default_index_dir
    from qa.milvus_sync import sync
    from qa.stores import store_location

    uri = store_location(uri)
    if uri is None:
        raise ValueError(
            "--export-to needs a Milvus URI: milvus:///path/file.db or http://host:19530"
        )
    print(sync(index_dir or default_index_dir(), uri, replace=True).summary())
    return 0


def _build(args):
    from qa.build import (
        DEFAULT_CORPUS,
        build_index,
        default_index_dir,
        managed_corpora,
        model_for,
    )
    from qa.embedding import load_embedder
    from qa.vectors import chosen_kind

    chosen_kind(args.vector_index)  # a bad setting fails before the model takes seconds to load
    index_dir = args.index_dir or default_index_dir()
    urls = [
        *getattr(args, "url", []),
        *(_urls_from(args.url_file) if getattr(args, "url_file", None) else []),
    ]
    fetch_warnings = _fetch(urls, index_dir, args.allow_private) if urls else []
    # Fetched pages and uploads live in folders of the index; a plain run keeps them in sync too.
    corpora = [] if urls and not args.corpus else list(args.corpus or [DEFAULT_CORPUS])
    corpora += [d for d in managed_corpora(index_dir) if d not in corpora]
    embedder = load_embedder(model_for(index_dir, args.model, args.rebuild),
                             workers=getattr(args, "workers", 1))  # app.py: in-process  # fmt: skip
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # its monitor thread would outlive the bar in the app
            bar = tqdm(total=total, desc="embedding", unit="para", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        report = build_index(corpora, index_dir, rebuild=args.rebuild, embedder=embedder,
                             vector_index=args.vector_index, progress=progress)  # fmt: skip
        report.warnings[:0] = fetch_warnings
        if getattr(args, "merge", False):  # app.py passes no such option
            from qa.writer import merge_index

            merge_index(index_dir)
        return report
    finally:
        if bar is not None:
            bar.close()


def _urls_from(path: Path) -> list[str]:
    from qa.fetch import read_url_file

    return read_url_file(path)


def _fetch(urls: list[str], index_dir: Path, allow_private: bool) -> list[str]:
    """Snapshot each page into the index's web folder; a page that fails is a warning."""
    from qa.build import web_folder
    from qa.fetch import FetchError, snapshot

    warnings = []
    for url in urls:
        try:
            page = snapshot(url, web_folder(index_dir), allow_private)
            print(f"fetched {url} → {page.title}", file=sys.stderr)
        except FetchError as error:
            warnings.append(f"skipped {error}")
    if len(warnings) == len(urls):
        from qa.errors import QAError

        raise QAError("no page could be fetched:\n  " + "\n  ".join(warnings))
    return warnings


def _list(index_dir: Path | None) -> int:
    from qa.build import default_index_dir
    from qa.store import Reader

    reader = Reader(index_dir or default_index_dir())
    rows = reader.documents()
    print(
        f"{len(rows)} documents · model {reader.model_id} · {reader.meta.get('passages')} paragraphs"
    )
    for row in rows:
        print(f"{row['date'] or '—':<10}  {row['passages']:>4} ¶  {row['doc_id']}  {row['title']}")
    reader.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m qa`: ask, search or build from a terminal."""
    parser = argparse.ArgumentParser(prog="python -m qa", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="print the best-matching paragraphs")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="number of paragraphs (default 5)")
    search.add_argument("--index-dir", type=Path, help=_index_dir_help())
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.add_argument("--store", metavar="URI", help=_STORE_HELP)
    ask = commands.add_parser("ask", help="answer a question, quoting and citing the sources")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=5, help="paragraphs to answer from (default 5)")
    ask.add_argument("--doc", action="append", metavar="DOC_ID", help="only these documents")
    ask.add_argument(
        "--from", dest="date_from", metavar="YYYY-MM-DD", help="documents dated on or after"
    )
    ask.add_argument(
        "--to", dest="date_to", metavar="YYYY-MM-DD", help="documents dated on or before"
    )
    ask.add_argument("--in-force", action="store_true",
                     help="only documents in force (现行有效); repealed ones are left out")  # fmt: skip
    ask.add_argument("--index-dir", type=Path, help=_index_dir_help())
    ask.add_argument("--json", action="store_true", help="machine-readable output")
    ask.add_argument("--store", metavar="URI", help=_STORE_HELP)
    commands.add_parser("build", help="same as index_build.py", add_help=False)
    feedback = commands.add_parser("feedback", help="export the answer ratings of the chat")
    feedback.add_argument(
        "--export", required=True, metavar="FILE", help="output file, - for stdout"
    )
    feedback.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                          help="jsonl (default) or csv")  # fmt: skip
    feedback.add_argument("--index-dir", type=Path, help=_index_dir_help())
    args, rest = parser.parse_known_args(argv)
    if args.command == "build":
        return build_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    from qa.errors import QAError

    try:
        if args.command == "feedback":
            return _feedback(args)
        _use_store(args.store)
        return _ask(args) if args.command == "ask" else _search(args)
    except (QAError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _feedback(args) -> int:
    from qa.build import default_index_dir
    from qa.feedback import export, feedback_path

    index_dir = args.index_dir or default_index_dir()
    # Messages go to stderr when the records themselves go to stdout.
    status = sys.stderr if args.export == "-" else sys.stdout
    if not feedback_path(index_dir).is_file():
        print(f"no feedback yet ({feedback_path(index_dir)} does not exist)", file=status)
        return 0
    count = export(args.export, args.format, index_dir=index_dir)
    where = "stdout" if args.export == "-" else args.export
    print(f"exported {count} feedback records to {where} ({args.format})", file=status)
    return 0


def _search(args) -> int:
    import dataclasses
    import json

    from qa.search import retrieve

    passages = retrieve(args.query, args.k, index_dir=args.index_dir)
    if args.json:
        print(json.dumps([dataclasses.asdict(p) for p in passages], ensure_ascii=False, indent=2))
        return 0
    if not passages:
        print("no matching paragraphs")
    for rank, passage in enumerate(passages, 1):
        print(f"[{rank}] {passage.citation}  (score {passage.score:.2f})\n    {passage.text}\n")
    return 0


def _ask(args) -> int:
    import json

    from qa.answer import Answer, stream_answer

    events = stream_answer(args.question, args.k, index_dir=args.index_dir, docs=args.doc,
                           date_from=args.date_from, date_to=args.date_to,
                           in_force=args.in_force)  # fmt: skip
    shown = ""
    result = None
    for event in events:
        if isinstance(event, Answer):
            result = event
        elif isinstance(event, str) and not args.json:
            print(event, end="", flush=True)
            shown += event
        elif not isinstance(event, str) and event.follow_up and not args.json:
            print(f"检索：{event.query}", file=sys.stderr)
    assert result is not None
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if result.text != shown:  # an LLM answer that fell back to quotes: show the final text
        print(f"\n\n{result.text}", end="")
    print()
    if result.notice:
        print(f"（{result.notice}）")
    for citation in result.citations:
        print(f"\n[{citation.n}] {citation.passage.citation}")
        authority = citation.passage.authority
        if authority is not None and authority.level:
            print(f"    {authority.level} · {authority.status}"
                  + (f" · {authority.effective}起施行" if authority.effective else ""))  # fmt: skip
        if citation.passage.source:
            print(f"    {citation.passage.source}")
    if result.related:
        print("\n相关段落 (related reading):")
        for passage in result.related:
            print(f"  · {passage.citation}\n    {passage.text[:120]}")
    return 0


def app_main(argv: Sequence[str] | None = None) -> int:
    """`python app.py`: bring the index up to date with corpus/, then serve the chat."""
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the policy QA chat.")
    parser.add_argument("--index-dir", type=Path, metavar="DIR", help=_index_dir_help())
    parser.add_argument("--corpus", action="append", type=Path, metavar="DIR",
                        help="corpus folder kept in sync at start-up (default: corpus/)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--store", metavar="URI",
                        help="answer from a Milvus store (milvus:///path/file.db or "
                        "http://host:19530), kept in sync with the index; default: $QA_STORE")  # fmt: skip
    args = parser.parse_args(argv)
    from qa.errors import QAError

    try:
        _use_store(args.store)
        report = _build(argparse.Namespace(corpus=args.corpus, index_dir=args.index_dir,
                                           rebuild=False, model=None, quiet=False,
                                           vector_index=None))  # fmt: skip
        print(report.summary())
        from qa.webapp import serve

        serve(args.index_dir, args.host, args.port)
    except (QAError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
