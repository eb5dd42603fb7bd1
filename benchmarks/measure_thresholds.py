"""Measure the score distributions behind provenance/thresholds.json on newstest2013 (never eval-reserve).

Pseudo-documents are blocks of 20 consecutive lines (150 blocks). Each block is aligned and scored with
the library itself (align_sentences, score_pair, measure_coverage), under these conditions:

  translation    opus-mt-fr-en English of the French block vs the human English block
                 (a human translation back-translated by MT: the TRANSLATION class)
  unrelated      the same MT block vs the human English of the next block (often the same story) and of
                 the block half the corpus away (another story of the same period): the UNRELATED class
  mt_agreement   opus-mt-fr-en vs opus-mt-tc-big-fr-en English of the same French block: two MT systems
                 agreeing, the proxy for machine-translated French round-tripped through another MT
                 system (MT_REPUBLICATION). A proxy only: real round trips compound two systems' errors.
  partial_source first half of the MT block vs the whole human block (an excerpt is republished)
  partial_article first half of the MT block + half of an unrelated MT block vs the human block
  partial_article_mt  the same, against the tc-big MT block (machine republication of part of a source)

Boundaries are the midpoint of the threshold interval that maximises balanced accuracy between the two
neighbouring classes. Confidence scales put the median of the nearer class at confidence 0.95.

Run:  python benchmarks/measure_thresholds.py [--data DIR] [--write provenance/thresholds.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from sacrebleu.metrics import CHRF

from provenance.align import GOOD_LINK_CHRF, align_sentences, measure_coverage
from provenance.score import score_pair
from provenance.verdict import Label, Thresholds, decide

VERSION = "1-newstest2013-proxy"  # bump when the measurement or the decision rule changes
BLOCK_LINES = 20  # a short news article
QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
MEDIAN_CONFIDENCE = 0.95  # confidence given to the median of the class nearer a boundary
PARTIAL_COVERAGE = 0.5  # a design choice, not measured: below half, the doc scores mostly measure the gap
PARTIAL_MIN_SENTENCES = 2  # one matching sentence (a quote, a dateline) is not a republication
DECLARED_MT_PRIOR_ODDS = 9.0  # a site that says it machine-translates: 9:1 prior odds for machine translation
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class Measure:
    bleu: float
    chrf: float
    ter: float
    article_coverage: float
    source_coverage: float
    link_chrf: float  # mean chrF of back-translated sentences in well-aligned links
    good_sentences: int


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def measure(hyp: Sequence[str], ref: Sequence[str]) -> tuple[Measure, object, object]:
    alignments = align_sentences(hyp, ref)
    score = score_pair("article", "source", hyp, ref, alignments)
    coverage = measure_coverage(alignments, hyp, ref)
    good = [chrf for chrf in score.sentence_chrf if chrf >= GOOD_LINK_CHRF]
    return Measure(
        bleu=score.bleu, chrf=score.chrf, ter=score.ter,
        article_coverage=coverage.article, source_coverage=coverage.source,
        link_chrf=statistics.mean(good) if good else 0.0, good_sentences=len(good),
    ), score, coverage


def quantiles(values: Sequence[float]) -> list[float]:
    ordered = sorted(values)
    return [round(ordered[round(q * (len(ordered) - 1))], 2) for q in QUANTILES]


def best_boundary(negatives: Sequence[float], positives: Sequence[float]) -> tuple[float, float]:
    """Midpoint of the interval of thresholds (x >= t is positive) maximising balanced accuracy."""
    values = sorted(set(negatives) | set(positives))
    scored = []
    for index, value in enumerate(values):
        true_positive = sum(x >= value for x in positives) / len(positives)
        true_negative = sum(x < value for x in negatives) / len(negatives)
        below = values[index - 1] if index else value
        scored.append(((true_positive + true_negative) / 2, (below + value) / 2))
    top = max(accuracy for accuracy, _ in scored)
    middle = (statistics.median(negatives) + statistics.median(positives)) / 2
    boundary = min((t for accuracy, t in scored if accuracy == top), key=lambda t: abs(t - middle))
    return boundary, top


def confidence_scale(boundary: float, *medians: float) -> float:
    nearest = min(abs(median - boundary) for median in medians)
    return nearest / math.log(MEDIAN_CONFIDENCE / (1 - MEDIAN_CONFIDENCE))


def conditions(data: Path) -> tuple[dict[str, Callable[[int], tuple[list[str], list[str]]]], int]:
    mt = read_lines(data / "mt-outputs" / "opus-mt-fr-en.newstest2013.eng")
    big = read_lines(data / "mt-outputs" / "opus-mt-tc-big-fr-en.newstest2013.eng")
    human = read_lines(data / "testsets" / "fra-eng" / "newstest2013.eng")
    count = len(human) // BLOCK_LINES
    half = BLOCK_LINES // 2

    def block(lines: list[str], index: int) -> list[str]:
        index %= count
        return lines[index * BLOCK_LINES:(index + 1) * BLOCK_LINES]

    return {
        "translation": lambda i: (block(mt, i), block(human, i)),
        "unrelated_next": lambda i: (block(mt, i), block(human, i + 1)),
        "unrelated_far": lambda i: (block(mt, i), block(human, i + count // 2)),
        "mt_agreement": lambda i: (block(mt, i), block(big, i)),
        "partial_source": lambda i: (block(mt, i)[:half], block(human, i)),
        "partial_article": lambda i: (block(mt, i)[:half] + block(mt, i + count // 2)[:half], block(human, i)),
        "partial_article_mt": lambda i: (block(mt, i)[:half] + block(mt, i + count // 2)[:half], block(big, i)),
    }, count


EXPECTED = {
    "translation": Label.TRANSLATION, "unrelated_next": Label.UNRELATED, "unrelated_far": Label.UNRELATED,
    "mt_agreement": Label.MT_REPUBLICATION, "partial_source": Label.TRANSLATION,
    "partial_article": Label.TRANSLATION, "partial_article_mt": Label.MT_REPUBLICATION,
}


def sentence_chrf_quantiles(data: Path) -> dict[str, list[float]]:
    """Sentence chrF of true pairs and of chance pairs within a block (what the aligner must tell apart)."""
    chrf = CHRF()
    mt = read_lines(data / "mt-outputs" / "opus-mt-fr-en.newstest2013.eng")
    human = read_lines(data / "testsets" / "fra-eng" / "newstest2013.eng")
    true_pairs = [chrf.sentence_score(h, [r]).score for h, r in zip(mt, human)]
    chance = []
    for start in range(0, len(human), BLOCK_LINES * 5):  # every 5th block keeps this a few seconds
        for i in range(start, start + BLOCK_LINES):
            chance += [chrf.sentence_score(mt[i], [human[j]]).score
                       for j in range(start, start + BLOCK_LINES) if j != i]
    cut = (0.01, 0.05, 0.5, 0.99, 0.999)
    return {name: [round(sorted(v)[round(q * (len(v) - 1))], 1) for q in cut]
            for name, v in (("true_pairs", true_pairs), ("chance_pairs_in_block", chance))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--write", type=Path, help="write the thresholds file here")
    args = parser.parse_args(argv)
    if not (args.data / "testsets").is_dir():
        parser.error(f"no development data under {args.data}")

    started = time.perf_counter()
    makers, count = conditions(args.data)
    results: dict[str, list[tuple[Measure, object, object]]] = {}
    for name, make in makers.items():
        results[name] = [measure(*make(i)) for i in range(count)]
    seconds = time.perf_counter() - started

    def column(name: str, attribute: str) -> list[float]:
        return [getattr(m, attribute) for m, _, _ in results[name]]

    unrelated = lambda attribute: column("unrelated_next", attribute) + column("unrelated_far", attribute)
    related_bleu, related_ba = best_boundary(unrelated("bleu"), column("translation", "bleu"))
    related_chrf, related_chrf_ba = best_boundary(unrelated("chrf"), column("translation", "chrf"))
    machine_bleu, machine_ba = best_boundary(column("translation", "bleu"), column("mt_agreement", "bleu"))
    machine_chrf, machine_chrf_ba = best_boundary(column("translation", "chrf"), column("mt_agreement", "chrf"))
    link_chrf, link_ba = best_boundary(column("translation", "link_chrf"), column("mt_agreement", "link_chrf"))
    min_coverage, coverage_ba = best_boundary(unrelated("article_coverage"),
                                              column("partial_article", "article_coverage"))
    medians = {(name, attribute): statistics.median(column(name, attribute))
               for name in results for attribute in ("bleu", "link_chrf", "article_coverage")}
    bleu_scale = min(
        confidence_scale(related_bleu, statistics.median(unrelated("bleu")), medians["translation", "bleu"]),
        confidence_scale(machine_bleu, medians["translation", "bleu"], medians["mt_agreement", "bleu"]))
    chrf_scale = confidence_scale(link_chrf, medians["translation", "link_chrf"],
                                  medians["mt_agreement", "link_chrf"])
    coverage_scale = confidence_scale(min_coverage, statistics.median(unrelated("article_coverage")),
                                      medians["partial_article", "article_coverage"])

    table = {name: {attribute: quantiles(column(name, attribute))
                    for attribute in ("bleu", "chrf", "ter", "article_coverage", "source_coverage", "link_chrf")}
             for name in results}
    print(f"{count} blocks of {BLOCK_LINES} lines, {len(results)} conditions, {seconds:.0f} s; "
          f"quantiles {list(QUANTILES)}")
    for name, attributes in table.items():
        print(f"\n{name}")
        for attribute, values in attributes.items():
            print(f"  {attribute:16s} {values}")
    sentence_table = sentence_chrf_quantiles(args.data)
    print(f"\nsentence chrF quantiles (1%, 5%, 50%, 99%, 99.9%): {sentence_table}")
    print("\nboundaries (midpoint of the balanced-accuracy-maximising interval):")
    print(f"  related doc BLEU  {related_bleu:6.2f}  balanced accuracy {related_ba:.3f}")
    print(f"  related doc chrF  {related_chrf:6.2f}  balanced accuracy {related_chrf_ba:.3f}  (reported only)")
    print(f"  machine doc BLEU  {machine_bleu:6.2f}  balanced accuracy {machine_ba:.3f}")
    print(f"  machine doc chrF  {machine_chrf:6.2f}  balanced accuracy {machine_chrf_ba:.3f}  (reported only)")
    print(f"  machine link chrF {link_chrf:6.2f}  balanced accuracy {link_ba:.3f}")
    print(f"  min article coverage {min_coverage:.3f}  balanced accuracy {coverage_ba:.3f}")
    print(f"  scales: bleu {bleu_scale:.2f}, chrf {chrf_scale:.2f}, coverage {coverage_scale:.3f}")

    thresholds_data = {
        "version": VERSION,
        "source": _source_text(count, table, sentence_table),
        "related": {"bleu": round(related_bleu, 1)},
        "machine": {"bleu": round(machine_bleu, 1), "link_chrf": round(link_chrf, 1)},
        "partial": {"coverage": PARTIAL_COVERAGE, "min_article_coverage": round(min_coverage, 2),
                    "min_sentences": PARTIAL_MIN_SENTENCES},
        "confidence": {"bleu_scale": round(bleu_scale, 2), "chrf_scale": round(chrf_scale, 2),
                       "coverage_scale": round(coverage_scale, 3)},
        "declared_machine_translation": {"prior_odds": DECLARED_MT_PRIOR_ODDS},
        "measured": {"block_lines": BLOCK_LINES, "blocks": count, "quantiles": list(QUANTILES),
                     "documents": table, "sentence_chrf": sentence_table},
    }
    thresholds = Thresholds.from_dict(thresholds_data, "measured")
    print("\nin-sample check with these thresholds (label counts per condition):")
    for name, rows in results.items():
        labels = [decide("article", score, coverage, (), thresholds).label for _, score, coverage in rows]
        counts = {label.value: labels.count(label) for label in Label}
        print(f"  {name:20s} expected {EXPECTED[name].value:17s} {counts}")
    if args.write:
        args.write.write_text(json.dumps(thresholds_data, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.write}")
    return 0


def _source_text(count: int, table: dict, sentence_table: dict) -> str:
    def summary(name: str, attribute: str) -> str:
        values = table[name][attribute]
        return f"{attribute} median {values[3]:g} (5-95%: {values[1]:g}-{values[5]:g})"

    return (
        f"Measured by benchmarks/measure_thresholds.py on /work/shared/data newstest2013, {count} pseudo-documents "
        f"of {BLOCK_LINES} consecutive lines, scored with this package (doc BLEU/chrF as one segment, sacrebleu "
        f"2.6 defaults). Translation class (opus-mt-fr-en English of the French vs the human English): "
        f"{summary('translation', 'bleu')}, {summary('translation', 'chrf')}, "
        f"{summary('translation', 'link_chrf').replace('link_chrf', 'aligned-sentence chrF')}. "
        f"Unrelated class (vs the human English of the next block / of a block half the corpus away): "
        f"{summary('unrelated_next', 'bleu')} / {summary('unrelated_far', 'bleu')}; doc chrF is inflated by "
        f"long documents sharing common character n-grams: {summary('unrelated_next', 'chrf')}. "
        f"Machine class PROXY (opus-mt-fr-en vs opus-mt-tc-big-fr-en English of the same French, i.e. two MT "
        f"systems agreeing; real English->MT French->MT English round trips compound two systems' errors, so "
        f"recalibrate on real republications): {summary('mt_agreement', 'bleu')}, "
        f"{summary('mt_agreement', 'link_chrf').replace('link_chrf', 'aligned-sentence chrF')}. "
        f"related.bleu, machine.bleu, machine.link_chrf and partial.min_article_coverage are the midpoints of the "
        f"threshold intervals maximising balanced accuracy between neighbouring classes (min_article_coverage: "
        f"unrelated vs half-article republications). partial.coverage {PARTIAL_COVERAGE} and min_sentences "
        f"{PARTIAL_MIN_SENTENCES} are design choices. Confidence scales put the nearer class median at "
        f"{MEDIAN_CONFIDENCE}. declared_machine_translation.prior_odds {DECLARED_MT_PRIOR_ODDS:g} is a judgement "
        f"(a disclaimer makes machine translation about 9 times likelier), not a measurement. Full quantiles "
        f"under 'measured'."
    )


if __name__ == "__main__":
    sys.exit(main())
