"""Train the answer readers (qa/reader.py) on the dev questions, each without one fold of them.

    .venv/bin/python -m bench.reader [--index-dir DIR] [--folds 2] [--weights-dir DIR]

Pairs, from the dev split of tests/data/policy_questions.yaml only:
- each question and the quotes the system would answer it with (decision switched off): 1 when
  the question is answerable and the quotes hold its expected fact, else 0 (near-misses: the
  refusals' quotes are about the asked thing, and don't answer it);
- each answerable question and the corpus sentence holding an expected string: 1;
- each answerable question and a random corpus sentence: 0; each refusal and its top passage: 0.

multilingual-e5-small's top four layers and a linear head are trained (AdamW, 3 epochs, lr 1e-4,
classes balanced); the lower layers and the vocabulary stay the embedder's. `--folds K` trains K
readers, each without one fold of the questions (a blind-written batch stays in one fold), and
writes every dev question's score from the reader that didn't see it to
bench/results/reader_oof.json: bench.answerability fits the decision on those, since in-sample
scores would make the reader look better than it is on new wording. The K readers are shipped
(qa/weights/reader-foldK.safetensors, replacing the ones there) and served together, their
logits averaged, so that new questions are read on the scale the decision was fitted on; a single
reader retrained on all of dev read new questions lower than its fold models had. On 2 cores,
about 6 minutes an epoch per 1,400 pairs: `--folds 2` over the 1,074 dev questions took 38
minutes. Run it with nothing else busy, then refit the decision (bench.answerability).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import zlib
from pathlib import Path

import numpy as np

from bench.retrieval import CORPUS, RESULTS, corpus_index
from qa.e5_convert import DEFAULT_MODEL_ID

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "qa" / "weights"

TRAINED_LAYERS = 4
EPOCHS = 3
LEARNING_RATE = 1e-4
HEAD_LEARNING_RATE = 1e-3
BATCH = 16
SEED = 0


def fold_of(row: dict, folds: int) -> int:
    if row.get("batch") is not None:
        return (row["batch"] - 1) % folds
    return zlib.crc32(row["id"].encode()) % folds


def corpus_sentences() -> list[str]:
    from qa.documents import read_document

    texts = [read_document(p).text for p in sorted(CORPUS.glob("*")) if p.suffix in (".md", ".txt")]
    return [s.strip() for t in texts for s in re.findall(r"[^。！？\n]+[。！？]?", t)
            if len(s.strip()) > 8]  # fmt: skip


def quote_of(row: dict) -> str:
    from qa.reader import MAX_QUOTE_CHARS

    return " ".join(row["quotes"])[:MAX_QUOTE_CHARS]


def pairs_of(rows: list[dict], sentences: list[str], rng: random.Random) -> list[tuple]:
    from qa.reader import MAX_QUOTE_CHARS

    pairs = []
    for row in rows:
        if row["features"] is not None and row["quotes"]:
            pairs.append((row["q"], quote_of(row), float(row["answerable"] and row["fact"])))
        if row["answerable"]:
            for expected in row["expect"][:2]:
                holding = next((s for s in sentences if expected in s), None)
                if holding:
                    pairs.append((row["q"], holding[:MAX_QUOTE_CHARS], 1.0))
            other = rng.choice(sentences)
            if not any(e in other for e in row["expect"]):
                pairs.append((row["q"], other[:MAX_QUOTE_CHARS], 0.0))
        elif row["passages"]:
            pairs.append((row["q"], row["passages"][0][:MAX_QUOTE_CHARS], 0.0))
    return pairs


def _batch(tokenizer, items):
    from qa.reader import MAX_PAIR_TOKENS, PASSAGE_PROMPT, QUERY_PROMPT

    return tokenizer([QUERY_PROMPT + q for q, *_ in items], [PASSAGE_PROMPT + s for _, s, *_ in items],
                     padding=True, truncation="only_second", max_length=MAX_PAIR_TOKENS,
                     return_tensors="pt")  # fmt: skip


def train(pairs: list[tuple], source: Path, seed: int = SEED):
    """A reader fitted on `pairs`; returns (model, tokenizer)."""
    import torch
    from transformers import AutoTokenizer

    from qa.reader import build_torch_reader

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = build_torch_reader(source, weights=None)
    tokenizer = AutoTokenizer.from_pretrained(source)
    for parameter in model.encoder.parameters():
        parameter.requires_grad = False
    trained = [
        p for layer in model.encoder.encoder.layer[-TRAINED_LAYERS:] for p in layer.parameters()
    ]
    for parameter in trained:
        parameter.requires_grad = True
    optimiser = torch.optim.AdamW([{"params": trained, "lr": LEARNING_RATE},
                                   {"params": model.head.parameters(), "lr": HEAD_LEARNING_RATE}],
                                  weight_decay=0.01)  # fmt: skip
    positives = sum(label for *_, label in pairs)
    loss_of = torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor((len(pairs) - positives) / max(positives, 1))
    )
    model.train()
    order = list(pairs)
    for epoch in range(EPOCHS):
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), BATCH):
            items = order[start : start + BATCH]
            batch = _batch(tokenizer, items)
            logits = model(batch["input_ids"], batch["attention_mask"])
            loss = loss_of(logits, torch.tensor([label for *_, label in items]))
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
            total += loss.item() * len(items)
        print(f"  epoch {epoch}: loss {total / len(order):.3f}", flush=True)
    return model.eval(), tokenizer


def score(model, tokenizer, rows: list[dict]) -> dict[str, float]:
    import torch

    scores = {}
    with torch.no_grad():
        for start in range(0, len(rows), BATCH):
            items = rows[start : start + BATCH]
            batch = _batch(tokenizer, [(r["q"], quote_of(r)) for r in items])
            logits = model(batch["input_ids"], batch["attention_mask"]).tolist()
            scores.update({r["id"]: round(float(s), 4) for r, s in zip(items, logits)})
    return scores


def auc(scores: list[float], labels: list[bool]) -> float:
    s, y = np.array(scores), np.array(labels, dtype=bool)
    pos, neg = s[y][:, None], s[~y][None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def save_weights(model, path: Path, metadata: dict[str, str]) -> None:
    """Only what training changed: the top layers and the head, fp16, written atomically."""
    from safetensors.torch import save_file

    first = len(model.encoder.encoder.layer) - TRAINED_LAYERS
    kept = {name: tensor.detach().half().contiguous() for name, tensor in model.state_dict().items()
            if name.startswith("head.") or any(name.startswith(f"encoder.encoder.layer.{i}.")
                                               for i in range(first, first + TRAINED_LAYERS))}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(kept, str(tmp), metadata=metadata)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, help="an index of corpus/ (default: build one)")
    parser.add_argument(
        "--folds", type=int, default=2, help="readers to train, each without one fold"
    )
    parser.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR,
                        help="where the readers go (default: the shipped ones, qa/weights)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2: each reader is scored on a fold it didn't see")
    from bench.answerability import dev_rows
    from qa.e5_convert import default_model_dir

    with tempfile.TemporaryDirectory() as scratch:
        rows = dev_rows(corpus_index(args.index_dir, scratch))
    source = default_model_dir()
    sentences = corpus_sentences()
    decided = [r for r in rows if r["features"] is not None and r["quotes"]]
    oof: dict[str, float] = {}
    readers = []
    for k in range(args.folds):
        train_rows = [r for r in rows if fold_of(r, args.folds) != k]
        pairs = pairs_of(train_rows, sentences, random.Random(SEED + k))
        print(f"fold {k}: {len(pairs)} pairs", flush=True)
        model, tokenizer = train(pairs, source, SEED + k)
        oof.update(score(model, tokenizer, [r for r in decided if fold_of(r, args.folds) == k]))
        readers.append((model, len(pairs)))
    labels = [r["answerable"] for r in decided]
    centre = float(np.mean(list(oof.values())))
    for stale in args.weights_dir.glob("reader-*.safetensors"):
        stale.unlink()
    for k, (model, pairs) in enumerate(readers):
        metadata = {"base": DEFAULT_MODEL_ID, "trained_layers": str(TRAINED_LAYERS),
                    "epochs": str(EPOCHS), "learning_rate": str(LEARNING_RATE),
                    "pairs": str(pairs), "fold": f"{k}/{args.folds}",
                    "dev_questions": str(len(rows)), "centre": f"{centre:.4f}"}  # fmt: skip
        save_weights(model, args.weights_dir / f"reader-fold{k}.safetensors", metadata)
    text = json.dumps({"folds": args.folds, "scores": oof}, indent=1) + "\n"
    (RESULTS / "reader_oof.json").write_text(text, encoding="utf-8")
    result = {
        "dev_questions": len(rows),
        "scored": len(decided),
        "folds": args.folds,
        "centre": round(centre, 4),
        "out_of_fold_auc": {
            "reader_vs_answerable": round(auc([oof[r["id"]] for r in decided], labels), 3),
            "dense_vs_answerable": round(auc([r["features"]["dense"] for r in decided], labels), 3),
        },
    }
    from bench.retrieval import save

    return save("reader", result)


if __name__ == "__main__":
    main()
