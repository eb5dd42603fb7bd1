"""Scale benchmark: retrieve + score + align for 10,000 articles against 100,000 English sources on the CPU.

Everything is generated from the sentences in ../shared (deterministic for a given --seed):

- Sentence pool: English news lines of the WMT test sets (newstest 2008-2012), the extra lines of
  wmt_news_dev_2008_2012, the europarl, tico19 and gigafren heads (30-400 characters, deduplicated), in
  corpus order, and newstest2013.eng, whose lines have a real stored opus-mt-fr-en back-translation.
- Sources: 10-20 lines sampled, in order, from a window of consecutive pool lines: WINDOW (60) lines
  for a planted true source, which also gets DISTRACTORS same-topic sources built from the other lines
  of its window; FILLER_WINDOW (600) lines for the other sources, up to --sources. Each pool line is in
  about 30 sources (47,000 lines make 100,000 sources): the pool is small, so sentences are shared far
  more than between real articles.
- Articles (back-translated English, as the pipeline sees them):
  full       a whole source. Sources from newstest2013 use the real opus-mt-fr-en output of the French
             (a human-translation pair, the hardest case for retrieval); others use a synthetic
             back-translation (word dropout, synonyms, swapped neighbours).
  partial    three paragraphs (2-3 sentences each) of a 24-32 sentence source plus 3-8 sentences of the
             site's own text.
  compilation  4-8 consecutive sentences of one source, then 4-8 of another.
  unrelated  own text only (6-15 sentences).
  Own text is Tatoeba English (8+ words), which is in no source.

Measured: the index build, the queries (top-k), and pipeline._judge on every article (doc BLEU/chrF of
all k candidates, alignment, TER, verdict, matches), i.e. the code `provenance check` runs after
translation; with --workers 2, articles are judged in two forked processes. Printed: recall@1/5/10 of the
planted sources, what the judged entries say (best source, compilations with both sources named and
spans right, partial signals, unrelated articles left unrelated), time, peak RSS, and a naive baseline:
sacrebleu BLEU + chrF of each article against every source, timed on --baseline-articles x
--baseline-sources pairs and projected to all pairs.

Run: /work/venv/bin/python benchmarks/score_scale.py [--articles 10000] [--sources 100000] [--workers 2]
     [--seed 13] [--shared DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from provenance import pipeline
from provenance.documents import Article
from provenance.retrieve import SourceIndex
from provenance.settings import DEFAULT_TOP_K
from provenance.verdict import Thresholds

NEWS_TESTSETS = ("news-test2008", "newstest2009", "newstest2010", "newstest2011", "newstest2012")
EXTRA_CORPORA = ("wmt_news_dev_2008_2012", "europarl_v7_head", "tico19_test", "gigafren_head")
REAL_MT = "data/mt-outputs/opus-mt-fr-en.newstest2013.eng"
REAL_MT_REFERENCE = "data/testsets/fra-eng/newstest2013.eng"
OWN_TEXT = "corpus/fr-en/tatoeba_manythings.en.gz"
MIN_CHARS, MAX_CHARS = 30, 400  # pool lines: drop headings and table rows
WINDOW = 60  # pool lines a planted source and its distractors sample from: one or two news stories
# Pool lines a filler source samples from. Wider than WINDOW so that two neighbouring sentences rarely share
# a filler (about 480 / FILLER_WINDOW fillers hold both): a source holding several of an article's sentences
# is a near-duplicate of its true source, which real pools have few of. --filler-window 60 is the crowded
# variant (see the README).
FILLER_WINDOW = 600
SOURCE_SENTENCES = (10, 20)
PARTIAL_SOURCE_SENTENCES = (24, 32)  # a partial copy takes 3 paragraphs of a long story: under half of it
DISTRACTORS = 2  # same-window sources with none of the true source's lines, per planted source
KINDS = {"full": 0.55, "partial": 0.15, "compilation": 0.10, "unrelated": 0.20}
REAL_MT_SHARE = 0.25  # of full copies, built on newstest2013 with the stored real MT
RECALL_AT = (1, 5, 10)
# Synthetic back-translation noise, per word: MT round trips change a word in ten or so.
DROP, SUBSTITUTE, SWAP = 0.04, 0.5, 0.03
SYNONYMS = {
    "said": "stated", "says": "states", "told": "said to", "big": "large", "large": "big", "also": "too",
    "but": "however", "began": "started", "start": "begin", "started": "began", "about": "around",
    "around": "about", "people": "persons", "children": "kids", "percent": "per cent", "per": "a",
    "between": "among", "while": "whereas", "after": "following", "before": "prior to", "show": "demonstrate",
    "shows": "demonstrates", "important": "significant", "government": "Government", "wants": "wishes",
    "want": "wish", "help": "assist", "buy": "purchase", "get": "obtain", "like": "such as", "many": "numerous",
    "however": "but", "because": "since", "still": "yet", "only": "solely", "almost": "nearly",
}


@dataclass
class Planted:
    """What an article was built from: its true sources and, for compilations, the expected spans."""

    kind: str
    sources: list[str]
    spans: list[tuple[int, int]] = field(default_factory=list)  # French sentence range per source
    real_mt: bool = False  # back-translation: the stored opus-mt-fr-en output, not synthetic noise


def read_lines(path: Path) -> list[str]:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return handle.read().splitlines()
    return path.read_text(encoding="utf-8").splitlines()


def sentence_pool(shared: Path) -> tuple[list[str], int]:
    """News lines in corpus order, newstest2013 last; returns the pool and where newstest2013 starts."""
    seen: set[str] = set()
    pool: list[str] = []

    def extend(lines):
        for line in lines:
            line = line.strip()
            if MIN_CHARS <= len(line) <= MAX_CHARS and line not in seen:
                seen.add(line)
                pool.append(line)

    for name in NEWS_TESTSETS:
        extend(read_lines(shared / "data/testsets/fra-eng" / f"{name}.eng"))
    for name in EXTRA_CORPORA:
        extend(read_lines(shared / "corpus/fr-en" / f"{name}.en.gz"))
    start_2013 = len(pool)
    pool.extend(read_lines(shared / REAL_MT_REFERENCE))  # kept whole: line i pairs with the MT's line i
    return pool, start_2013


class Generator:
    def __init__(self, shared: Path, seed: int):
        self.rng = random.Random(seed)
        self.pool, self.start_2013 = sentence_pool(shared)
        self.real_mt = read_lines(shared / REAL_MT)
        own = [line.strip() for line in read_lines(shared / OWN_TEXT) if len(line.split()) >= 8]
        self.own = sorted(set(own))
        self.sources: dict[str, list[int]] = {}  # id -> pool line numbers

    # ---- sources -----------------------------------------------------------------------------
    def _window(self, region: tuple[int, int], width: int = WINDOW) -> range:
        low = self.rng.randrange(region[0], max(region[0] + 1, region[1] - width))
        return range(low, min(region[1], low + width))

    def _add_source(self, lines: list[int]) -> str:
        source_id = f"src-{len(self.sources):06d}"
        self.sources[source_id] = sorted(lines)
        return source_id

    def planted_source(self, region: tuple[int, int], sizes: tuple[int, int] = SOURCE_SENTENCES) -> str:
        """A true source and its same-window distractors; returns the true source's id."""
        window = list(self._window(region))
        size = self.rng.randint(*sizes)
        chosen = self.rng.sample(window, min(size, len(window)))
        source_id = self._add_source(chosen)
        taken = set(chosen)
        rest = [line for line in window if line not in taken]
        for _ in range(DISTRACTORS):
            if len(rest) >= SOURCE_SENTENCES[0]:
                self._add_source(self.rng.sample(rest, min(len(rest), self.rng.randint(*SOURCE_SENTENCES))))
        return source_id

    def filler_sources(self, total: int, width: int = FILLER_WINDOW) -> None:
        everything = (0, len(self.pool))
        while len(self.sources) < total:
            window = list(self._window(everything, width))
            self._add_source(self.rng.sample(window, min(len(window), self.rng.randint(*SOURCE_SENTENCES))))

    # ---- back-translations -------------------------------------------------------------------
    def back_translation(self, line: int, real: bool) -> str:
        if real and line >= self.start_2013:
            return self.real_mt[line - self.start_2013]
        return self.noisy(self.pool[line])

    def noisy(self, sentence: str) -> str:
        words = []
        for word in sentence.split():
            roll = self.rng.random()
            if roll < DROP:
                continue
            bare = word.strip(".,;:!?\"'()").lower()
            if bare in SYNONYMS and self.rng.random() < SUBSTITUTE:
                word = word.replace(word.strip(".,;:!?\"'()"), SYNONYMS[bare])
            words.append(word)
        for i in range(len(words) - 1):
            if self.rng.random() < SWAP:
                words[i], words[i + 1] = words[i + 1], words[i]
        return " ".join(words)

    def own_text(self, count: int) -> list[str]:
        return self.rng.sample(self.own, count)

    # ---- articles ----------------------------------------------------------------------------
    def articles(self, count: int, total_sources: int,
                 filler_window: int = FILLER_WINDOW) -> tuple[list[list[str]], list[Planted]]:
        kinds = [kind for kind, share in KINDS.items() for _ in range(round(share * count))]
        kinds = (kinds + ["full"] * count)[:count]
        self.rng.shuffle(kinds)
        region_2013 = (self.start_2013, len(self.pool))
        region_other = (0, self.start_2013)
        texts, planted = [], []
        for kind in kinds:
            real = kind == "full" and self.rng.random() < REAL_MT_SHARE
            region = region_2013 if real else region_other
            if kind == "full":
                source = self.planted_source(region)
                texts.append([self.back_translation(line, real) for line in self.sources[source]])
                planted.append(Planted(kind, [source], real_mt=real))
            elif kind == "partial":
                texts_, plant = self._partial(region)
                texts.append(texts_)
                planted.append(plant)
            elif kind == "compilation":
                texts_, plant = self._compilation(region)
                texts.append(texts_)
                planted.append(plant)
            else:
                texts.append(self.own_text(self.rng.randint(6, 15)))
                planted.append(Planted(kind, []))
        if len(self.sources) > total_sources:
            raise SystemExit(f"{len(self.sources)} planted sources exceed --sources {total_sources}")
        self.filler_sources(total_sources, filler_window)
        return texts, planted

    def _partial(self, region) -> tuple[list[str], Planted]:
        source = self.planted_source(region, PARTIAL_SOURCE_SENTENCES)
        lines = self.sources[source]
        paragraphs, at = [], 0
        while at < len(lines):
            size = self.rng.randint(2, 3)
            paragraphs.append(lines[at:at + size])
            at += size
        kept = sorted(self.rng.sample(range(len(paragraphs)), min(3, len(paragraphs))))
        own = self.own_text(self.rng.randint(3, 8))
        cut = sorted(self.rng.randint(0, len(own)) for _ in kept)
        sentences, previous = [], 0
        for paragraph, until in zip(kept, cut):
            sentences += own[previous:until] + [self.noisy(self.pool[line]) for line in paragraphs[paragraph]]
            previous = until
        return sentences + own[previous:], Planted("partial", [source])

    def _compilation(self, region) -> tuple[list[str], Planted]:
        sentences, plant = [], Planted("compilation", [])
        for _ in range(2):
            source = self.planted_source(region)
            lines = self.sources[source]
            size = min(len(lines), self.rng.randint(4, 8))
            start = self.rng.randint(0, len(lines) - size)
            plant.sources.append(source)
            plant.spans.append((len(sentences), len(sentences) + size - 1))
            sentences += [self.noisy(self.pool[line]) for line in lines[start:start + size]]
        return sentences, plant


def as_source(source_id: str, sentences: list[str]) -> pipeline.LoadedSource:
    article = Article(id=source_id, origin="generated", lang="en", title="", text="\n".join(sentences),
                      removed=(), digest="")
    return pipeline.LoadedSource(article, tuple(sentences))


def as_article(article_id: str) -> Article:
    return Article(id=article_id, origin="generated", lang="fr", title="", text="", removed=(), digest="")


# ---- measuring --------------------------------------------------------------------------------
def peak_rss_gib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) * 1024 / 2**30  # ru_maxrss is in KiB on Linux


def judge_range(backs, candidates, index, sources, thresholds, start, stop) -> list[dict]:
    """Judge articles start..stop-1 with the pipeline's own function; keep what the checks read."""
    summaries = []
    for number in range(start, stop):
        entry = pipeline._judge(as_article(f"art-{number:05d}"), [], backs[number], index, sources,
                                thresholds, DEFAULT_TOP_K, candidates=candidates[number])
        summaries.append({
            "verdict": entry["verdict"],
            "best": (entry["best_source"] or {}).get("id"),
            "signals": entry["signals"],
            "matches": [(m["id"], [list(s["french"]) for s in m["spans"]]) for m in entry["matches"]],
        })
    return summaries


def judge_all(backs, candidates, index, sources, thresholds, workers: int) -> tuple[list[dict], list[float]]:
    """Judge every article, in `workers` forked processes (index and sources shared copy-on-write).

    Returns the summaries and each worker's CPU seconds.
    """
    if workers <= 1:
        start = time.process_time()
        summaries = judge_range(backs, candidates, index, sources, thresholds, 0, len(backs))
        return summaries, [time.process_time() - start]
    bounds = [len(backs) * w // workers for w in range(workers + 1)]
    pipes = []
    for w in range(workers):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: judge one slice, send the summaries as JSON, exit without cleanup handlers
            os.close(read_end)
            start = time.process_time()
            summaries = judge_range(backs, candidates, index, sources, thresholds, bounds[w], bounds[w + 1])
            with os.fdopen(write_end, "w", encoding="utf-8") as handle:
                json.dump({"summaries": summaries, "cpu": time.process_time() - start}, handle)
            os._exit(0)
        os.close(write_end)
        pipes.append((pid, read_end))
    summaries, cpu = [], []
    for pid, read_end in pipes:
        with os.fdopen(read_end, "r", encoding="utf-8") as handle:
            result = json.load(handle)
        summaries.extend(result["summaries"])
        cpu.append(result["cpu"])
        _, status = os.waitpid(pid, 0)
        if status:
            raise SystemExit(f"worker {pid} failed with status {status}")
    return summaries, cpu


def recall(candidates, planted: list[Planted]) -> dict[str, dict[int, float]]:
    """Per kind and overall: share of planted (article, source) pairs found in the top k."""
    hits: dict[str, list[list[bool]]] = {}
    for found, plant in zip(candidates, planted):
        ranked = [c.source_id for c in found]
        keys = [plant.kind, "all"] + (["full, real MT"] if plant.real_mt else [])
        for source in plant.sources:
            for key in keys:
                hits.setdefault(key, []).append([source in ranked[:k] for k in RECALL_AT])
    return {kind: {k: sum(row[i] for row in rows) / len(rows) for i, k in enumerate(RECALL_AT)}
            for kind, rows in hits.items()}


def outcome(summaries: list[dict], planted: list[Planted]) -> dict[str, float]:
    """What the judged entries say about the planted structure."""
    counts: dict[str, list[bool]] = {}

    def count(name: str, ok: bool) -> None:
        counts.setdefault(name, []).append(ok)

    for summary, plant in zip(summaries, planted):
        named = [source for source, _ in summary["matches"]]
        if plant.kind == "full":
            count("full: best source right", summary["best"] == plant.sources[0])
            count("full: no partial/compilation signal",
                  not {"partial_republication", "compilation"} & set(summary["signals"]))
        elif plant.kind == "partial":
            count("partial: best source right", summary["best"] == plant.sources[0])
            count("partial: partial_republication signal", "partial_republication" in summary["signals"])
        elif plant.kind == "compilation":
            count("compilation: both sources named", set(named[:2]) == set(plant.sources))
            spans = dict(summary["matches"])
            right = all(spans.get(source) == [list(span)] for source, span in zip(plant.sources, plant.spans))
            count("compilation: spans exactly right", right)
            count("compilation: compilation signal", "compilation" in summary["signals"])
        else:
            count("unrelated: verdict unrelated", summary["verdict"] == "unrelated")
    return {name: sum(values) / len(values) for name, values in counts.items()}


def naive_baseline(backs, source_texts: list[list[str]], articles: int, sources: int) -> float:
    """Seconds per (article, source) pair for plain sacrebleu BLEU + chrF, no index, no cache."""
    import sacrebleu

    start = time.perf_counter()
    for back in backs[:articles]:
        hypothesis = [" ".join(back)]
        for sentences in source_texts[:sources]:
            reference = [[" ".join(sentences)]]
            sacrebleu.corpus_bleu(hypothesis, reference)
            sacrebleu.corpus_chrf(hypothesis, reference)
    return (time.perf_counter() - start) / (min(articles, len(backs)) * min(sources, len(source_texts)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--sources", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="processes that judge articles (forked)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--filler-window", type=int, default=FILLER_WINDOW, help="pool lines a filler samples from")
    parser.add_argument("--baseline-articles", type=int, default=5)
    parser.add_argument("--baseline-sources", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not (args.shared / REAL_MT).exists():
        print(f"missing {args.shared / REAL_MT}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    generator = Generator(args.shared, args.seed)
    backs, planted = generator.articles(args.articles, args.sources, args.filler_window)
    source_sentences = {sid: [generator.pool[i] for i in lines] for sid, lines in generator.sources.items()}
    sources = {sid: as_source(sid, sentences) for sid, sentences in source_sentences.items()}
    kinds = {kind: sum(p.kind == kind for p in planted) for kind in KINDS}
    print(f"generated {len(backs)} articles {kinds} and {len(sources)} sources "
          f"from {len(generator.pool)} pool lines in {time.perf_counter() - start:.1f}s; "
          f"peak RSS so far {peak_rss_gib():.2f} GiB")

    wall, cpu = {}, {}
    start, start_cpu = time.perf_counter(), time.process_time()
    index = SourceIndex.build([source.article for source in sources.values()])
    wall["index build"], cpu["index build"] = time.perf_counter() - start, time.process_time() - start_cpu
    start, start_cpu = time.perf_counter(), time.process_time()
    candidates = index.query_many([(f"art-{n:05d}", " ".join(back)) for n, back in enumerate(backs)],
                                  k=DEFAULT_TOP_K)
    wall["queries"], cpu["queries"] = time.perf_counter() - start, time.process_time() - start_cpu
    thresholds = Thresholds.load()
    start = time.perf_counter()
    summaries, worker_cpu = judge_all(backs, candidates, index, sources, thresholds, args.workers)
    judged = f"score + align ({args.workers} worker{'s' if args.workers > 1 else ''})"
    wall[judged], cpu[judged] = time.perf_counter() - start, max(worker_cpu)
    total = sum(wall.values())
    # On two idle cores the stage takes its serial CPU time plus the busiest worker's: the figure that does
    # not depend on what else the machine runs (wall time does).
    total_cpu = sum(cpu.values())

    recalls = recall(candidates, planted)
    results = outcome(summaries, planted)
    print(f"\nretrieval (TF-IDF top-{DEFAULT_TOP_K}) over {len(sources)} sources:")
    pairs = {kind: sum(len(p.sources) for p in planted if p.kind == kind) for kind in KINDS}
    pairs["all"], pairs["full, real MT"] = sum(pairs.values()), sum(p.real_mt for p in planted)
    for kind in ("full", "full, real MT", "partial", "compilation", "all"):
        if kind in recalls:
            print(f"  {kind:<14} " + "  ".join(f"R@{k} {v:.4f}" for k, v in recalls[kind].items())
                  + f"  ({pairs[kind]} pairs)")
    print("\njudged entries (pipeline._judge):")
    for name, value in results.items():
        print(f"  {name:<40} {value:.4f}")
    print("\ntime (wall, and CPU of this process or of the busiest worker):")
    for name in wall:
        print(f"  {name:<28} {wall[name]:8.1f}s wall {cpu[name]:8.1f}s CPU")
    print(f"  {'total':<28} {total:8.1f}s wall {total_cpu:8.1f}s CPU "
          f"({1000 * total_cpu / len(backs):.1f} ms CPU per article; workers' CPU: "
          + ", ".join(f"{seconds:.1f}s" for seconds in worker_cpu) + ")")
    print(f"peak RSS {peak_rss_gib():.2f} GiB (this process and its workers, generation included)")

    per_pair = naive_baseline(backs, list(source_sentences.values()), args.baseline_articles, args.baseline_sources)
    projected = per_pair * len(backs) * len(sources)
    print(f"\nnaive all-pairs sacrebleu (BLEU + chrF): {1000 * per_pair:.2f} ms per pair on "
          f"{args.baseline_articles} x {args.baseline_sources} pairs; projected for {len(backs)} x {len(sources)}: "
          f"{projected / 3600:.0f} h = {projected / total:.0f}x this run's wall time, "
          f"{projected / total_cpu:.0f}x its CPU time")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "articles": len(backs), "sources": len(sources), "kinds": kinds, "workers": args.workers,
            "seed": args.seed, "recall": recalls, "judged": results, "wall_seconds": wall, "cpu_seconds": cpu,
            "worker_cpu_seconds": worker_cpu, "total_wall_seconds": total, "total_cpu_seconds": total_cpu,
            "peak_rss_gib": peak_rss_gib(), "baseline_seconds_per_pair": per_pair,
            "baseline_projected_seconds": projected, "speedup_wall": projected / total,
            "speedup_cpu": projected / total_cpu,
        }, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
