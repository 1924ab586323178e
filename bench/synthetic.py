"""Large corpora for the scale benchmarks, made of real Chinese policy prose.

Passages are recombined from the sentences of the real corpus (corpus/: the seed and the
official texts), so that jieba, FTS5 and the answer code see the same kind of text as in use.

Embedding 100k passages with the real model takes about an hour on 2 cores, so the synthetic
passages get *composed* vectors: every distinct sentence is embedded once with the real model
(cached on disk between runs), and a passage's vector is the normalised mean of the vectors of
its lines and sentences. Query vectors always come from the real model. The cost of really
embedding is measured separately (passages/s) and added to projected build times.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

import numpy as np

from bench.retrieval import CORPUS

CACHE = Path.home() / ".cache" / "policy-qa" / "bench"
PASSAGES_PER_DOCUMENT = 20
_NUMBERED = re.compile(r"（汇编第\d+号）")


def real_paragraphs() -> tuple[list[str], list[str]]:
    """(titles, paragraph texts) of the real corpus, as the ingester reads them."""
    from qa.chunking import chunk_document
    from qa.documents import iter_corpus_files, read_document

    titles, paragraphs = [], []
    for root in [CORPUS]:
        for path in iter_corpus_files(root):
            document = read_document(path, root)
            titles.append(document.title)
            paragraphs.extend(chunk.text for chunk in chunk_document(document))
    return titles, paragraphs


def sentence_pool(paragraphs: list[str]) -> list[str]:
    from qa.text import sentence_spans

    pool = {paragraph[s:e] for paragraph in paragraphs for s, e in sentence_spans(paragraph)}
    return sorted(sentence for sentence in pool if len(sentence) >= 8)


def write_corpus(folder: Path, passages: int, seed: int = 0, first_doc: int = 0) -> int:
    """Write about `passages` passages as Markdown documents; returns the number of documents."""
    titles, paragraphs = real_paragraphs()
    pool = sentence_pool(paragraphs)
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    documents = max(1, round(passages / PASSAGES_PER_DOCUMENT))
    for number in range(first_doc, first_doc + documents):
        body = []
        for _ in range(PASSAGES_PER_DOCUMENT):
            # 2–4 sentences, under the chunker's 400-character split, mostly unique combinations.
            sentences = rng.sample(pool, rng.randint(2, 4))
            body.append("".join(sentences)[:390])
        title = f"{rng.choice(titles)}（汇编第{number}号）"
        date = f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        (folder / f"synthetic-{number:06d}.md").write_text(
            f"---\ntitle: {title}\ndate: {date}\nid: synthetic-{number}\n---\n\n"
            + "\n\n".join(body)
            + "\n",
            encoding="utf-8",
        )
    return documents


class ComposedEmbedder:
    """Real-model query vectors; passage vectors composed from cached real sentence vectors."""

    def __init__(self, real) -> None:
        self.real = real
        self.model_id, self.dim = real.model_id, real.dim
        self.cache_file = (
            CACHE / f"sentences-{hashlib.sha1(real.model_id.encode()).hexdigest()[:10]}.npz"
        )
        self.vectors: dict[str, np.ndarray] = {}
        if self.cache_file.exists():
            stored = np.load(self.cache_file, allow_pickle=False)
            self.vectors = dict(zip(stored["texts"].tolist(), stored["vectors"]))
        self.really_embedded = 0

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.real.embed_queries(texts)

    def _segments(self, text: str) -> list[str]:
        from qa.text import sentence_spans

        segments = []
        # The numbered suffix makes titles unique; the words of a title are what it means.
        for line in _NUMBERED.sub("", text).split("\n"):
            spans = sentence_spans(line)
            segments.extend(line[s:e] for s, e in spans) if spans else segments.append(line)
        return [segment for segment in segments if segment.strip()] or [text]

    def embed_passages(self, texts: list[str], progress=None) -> np.ndarray:
        segmented = [self._segments(text) for text in texts]
        missing = sorted({s for segments in segmented for s in segments} - self.vectors.keys())
        if missing:
            self.vectors.update(zip(missing, self.real.embed_passages(missing)))
            self.really_embedded += len(missing)
            self.save()
        matrix = np.stack([np.mean([self.vectors[s] for s in segments], axis=0)
                           for segments in segmented]).astype(np.float32)  # fmt: skip
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        if progress:
            progress(len(texts), len(texts))
        return matrix

    def save(self) -> None:
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self.vectors)
        temp = self.cache_file.with_suffix(".tmp.npz")
        np.savez(temp, texts=np.array(texts), vectors=np.stack([self.vectors[t] for t in texts]))
        temp.replace(self.cache_file)
