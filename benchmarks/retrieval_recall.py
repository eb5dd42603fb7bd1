"""Recall of SourceIndex on WMT newstest pseudo-documents, with a real opus-mt back-translation.

Sources: every block of 15 consecutive lines of newstest2009..2013 .eng (about 900 documents).
Queries: the same blocks of the stored opus-mt-fr-en back-translation of newstest2013.fra; the true
source of query block i is block i of newstest2013.eng. Also measured: the index built without
the 2013 blocks, which are then `add`ed (fixed vocabulary and idf), against a full build, and
the brute-force baseline the index replaces (sacrebleu chrF of each query against every source).

Run: /work/venv/bin/python benchmarks/retrieval_recall.py [--shared DIR] [--block-lines 15]
    [--baseline-queries 20]
--block-lines 1 makes every sentence a document: a much harder test of the same index.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from provenance.documents import Article
from provenance.retrieve import SourceIndex

BLOCK_LINES = 15  # lines per pseudo-document
YEARS = ("2009", "2010", "2011", "2012", "2013")
QUERY_YEAR = "2013"
BACK_TRANSLATION = "data/mt-outputs/opus-mt-fr-en.newstest2013.eng"
RECALL_AT = (1, 5, 10)


def read_blocks(path: Path, block_lines: int) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return ["\n".join(lines[i : i + block_lines]) for i in range(0, len(lines), block_lines)]


def source_articles(shared: Path, block_lines: int) -> list[Article]:
    articles = []
    for year in YEARS:
        path = shared / "data/testsets/fra-eng" / f"newstest{year}.eng"
        for number, text in enumerate(read_blocks(path, block_lines)):
            articles.append(Article(id=f"{year}-{number:04d}", origin=str(path), lang="en", title="", text=text,
                                    removed=(), digest=""))
    return articles


def recall(results, expected: list[str]) -> dict[int, float]:
    return {
        k: sum(truth in {c.source_id for c in found[:k]} for found, truth in zip(results, expected))
        / len(expected)
        for k in RECALL_AT
    }


def describe(name: str, scores: dict[int, float], seconds: float) -> str:
    shown = "  ".join(f"R@{k} {value:.4f}" for k, value in scores.items())
    return f"{name:<34} {shown}  {seconds:7.3f}s"


def brute_force_seconds(queries: list[tuple[str, str]], sources: list[Article], count: int) -> float:
    """Seconds per query for chrF against every source: what the index saves."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    start = time.perf_counter()
    for _, text in queries[:count]:
        for source in sources:
            chrf.sentence_score(text, [source.text])
    return (time.perf_counter() - start) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--block-lines", type=int, default=BLOCK_LINES, help="lines per pseudo-document")
    parser.add_argument("--baseline-queries", type=int, default=20, help="queries timed for brute-force chrF")
    args = parser.parse_args(argv)
    if not (args.shared / BACK_TRANSLATION).exists():
        print(f"missing {args.shared / BACK_TRANSLATION}", file=sys.stderr)
        return 2

    sources = source_articles(args.shared, args.block_lines)
    back_translation = read_blocks(args.shared / BACK_TRANSLATION, args.block_lines)
    queries = [(f"fr-{i:04d}", text) for i, text in enumerate(back_translation)]
    expected = [f"{QUERY_YEAR}-{i:04d}" for i in range(len(queries))]
    print(f"{len(sources)} source documents, {len(queries)} back-translated queries, {args.block_lines} lines each")

    start = time.perf_counter()
    index = SourceIndex.build(sources)
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    results = index.query_many(queries, k=max(RECALL_AT))
    query_seconds = time.perf_counter() - start
    per_query_ms = 1000 * query_seconds / len(queries)
    print(f"build {build_seconds:.3f}s, query {query_seconds:.3f}s ({per_query_ms:.2f} ms/query)")
    print(describe("full build", recall(results, expected), query_seconds))

    earlier = [s for s in sources if not s.id.startswith(QUERY_YEAR)]
    later = [s for s in sources if s.id.startswith(QUERY_YEAR)]
    start = time.perf_counter()
    grown = SourceIndex.build(earlier)
    grown.add(later)
    grown_results = grown.query_many(queries, k=max(RECALL_AT))
    print(describe(f"build {len(earlier)} + add {len(later)}", recall(grown_results, expected),
                   time.perf_counter() - start))

    if args.baseline_queries > 0:
        per_query = brute_force_seconds(queries, sources, args.baseline_queries)
        index_per_query = query_seconds / len(queries)
        print(f"brute-force chrF vs all sources: {per_query:.3f}s/query, "
              f"{per_query / index_per_query:.0f}x the index query time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
