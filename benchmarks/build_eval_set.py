"""Build the evaluation set behind `provenance evaluate` / `provenance calibrate` from ../shared/data.

Documents. The WMT news test sets are line-aligned but carry no document ids, so a pseudo-document is a
run of BLOCK_LINES (15) consecutive segments: block i of a test set is lines 15i .. 15i+14, on the French
and English side alike. A block may straddle a real document boundary, and the next block often continues
the same story: that makes neighbouring blocks hard same-period negatives.

Sources (sources.jsonl): every English block of newstest2009..2013 (about 900 documents), except the
"orphan" 2013 blocks (every ORPHAN_EVERY-th), whose English is left out so that their French has no
source in the pool.

Articles (articles.jsonl), all from newstest2013 where stored MT outputs exist, by case:
  human       the human French block (newstest2013.fra); back-translation: the stored opus-mt-fr-en English
              of it, a real MT back-translation. Verdict: translation.
  machine     machine French of the English block, by the "republisher" system: nllb-200-3.3B on even
              blocks, opus-mt-tc-big-en-fr on odd ones. No stored output back-translates machine French,
              and no fr->en model runs here, so its back-translation is a PROXY: the stored
              opus-mt-tc-big-fr-en English of the *human* French of the same block (labels say
              "back_translation": "proxy"). Verdict: mt_republication.
  unrelated   human and machine French of the orphan blocks (their source is not in the pool).
  noise       one variant per non-orphan block, cycling the kind and alternating human/machine French:
              boilerplate (scraped-page lines around the text, kept in the back-translation only when
              the cleaner keeps them, as on the model path), partial (the first half of the block followed
              by human French of an orphan block, whose
              English is not in the pool) and truncated (the first 40 % of the lines).
Forward check (forward.jsonl): the French of each 2013 source block by the "checker" system,
opus-mt-en-fr (the default --forward-model), which differs from both republisher systems.
Labels (labels.jsonl): {"id", "source", "verdict", "case", "variant", "back_translation", "block", "fold"};
folds group whole blocks: fold = block * FOLDS // blocks (contiguous, so a story spanning neighbouring
blocks rarely crosses folds).

Run: /work/venv/bin/python benchmarks/build_eval_set.py [--data DIR] [--out benchmarks/eval-set]
Never reads /work/shared/eval-reserve.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

from provenance.documents import clean_text, normalise_line

BLOCK_LINES = 15  # a short news article
YEARS = ("2009", "2010", "2011", "2012", "2013")
EVAL_YEAR = "2013"  # the only year with stored MT outputs
ORPHAN_EVERY = 4  # blocks with block % 4 == 3 lose their English source: unrelated cases
FOLDS = 5
TRUNCATED_SHARE = 0.4  # a truncated article keeps this share of its lines
PARTIAL_FILLER_OFFSET = 100  # the partial copy's second half comes from the French block this far away
REPUBLISHERS = ("nllb-200-3.3B", "opus-mt-tc-big-en-fr")  # alternate by block; both differ from the checker
CHECKER = "opus-mt-en-fr"  # plays the --forward-model (Helsinki-NLP/opus-mt-en-fr)
HUMAN_BACK_TRANSLATION = "opus-mt-fr-en"  # real MT back-translation of the human French
PROXY_BACK_TRANSLATION = "opus-mt-tc-big-fr-en"  # stand-in back-translation for machine French (see above)
NOISE_KINDS = ("boilerplate", "partial", "truncated")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "eval-set"

# Scraped-page lines of the kind seen on republisher pages (../shared/data/examples), with English.
BOILERPLATE = (
    ("Nouvelles du monde", "World news"),
    ("Accueil » Monde » Europe", "Home » World » Europe"),
    ("Publié le 14 mars 2013 à 10h32", "Published on 14 March 2013 at 10:32"),
    ("Vous pouvez partager cette histoire sur les réseaux sociaux :", "You can share this story on social media:"),
    ("Partager sur Facebook Partager sur Twitter", "Share on Facebook Share on Twitter"),
    ("Abonnez-vous à notre newsletter pour ne rien manquer.", "Subscribe to our newsletter so you don't miss anything."),
    ("Ce site utilise des cookies pour améliorer votre expérience.", "This site uses cookies to improve your experience."),
    ("Articles similaires", "Related articles"),
    ("Commentaires (0)", "Comments (0)"),
    ("Bouton retour en haut de la page", "Back to top button"),
    ("Tous droits réservés © 2013", "All rights reserved © 2013"),
    ("Lire aussi : les dernières informations en direct", "Read also: the latest news live"),
)


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def blocks(lines: Sequence[str]) -> list[list[str]]:
    return [list(lines[i:i + BLOCK_LINES]) for i in range(0, len(lines) - BLOCK_LINES + 1, BLOCK_LINES)]


def source_id(year: str, block: int) -> str:
    return f"{year}-{block:04d}"


def is_orphan(block: int) -> bool:
    return block % ORPHAN_EVERY == ORPHAN_EVERY - 1


def orphan_near(block: int, count: int) -> int:
    """The orphan block at or after `block`: its French has no source in the pool, so filler is unrelated."""
    while not is_orphan(block % count):
        block += 1
    return block % count


class Data:
    """The stored files, cut into blocks."""

    def __init__(self, root: Path):
        testsets, outputs = root / "testsets" / "fra-eng", root / "mt-outputs"
        self.english = {year: blocks(read_lines(testsets / f"newstest{year}.eng")) for year in YEARS}
        self.human = blocks(read_lines(testsets / f"newstest{EVAL_YEAR}.fra"))
        self.machine = {name: blocks(read_lines(outputs / f"{name}.newstest{EVAL_YEAR}.fra")) for name in REPUBLISHERS}
        self.checker = blocks(read_lines(outputs / f"{CHECKER}.newstest{EVAL_YEAR}.fra"))
        self.human_back = blocks(read_lines(outputs / f"{HUMAN_BACK_TRANSLATION}.newstest{EVAL_YEAR}.eng"))
        self.proxy_back = blocks(read_lines(outputs / f"{PROXY_BACK_TRANSLATION}.newstest{EVAL_YEAR}.eng"))
        self.count = len(self.human)


def case_lines(data: Data, block: int, case: str) -> tuple[list[str], list[str], str]:
    """(French lines, back-translated lines, republisher) of a human or machine case."""
    if case == "human":
        return data.human[block], data.human_back[block], "human"
    republisher = REPUBLISHERS[block % len(REPUBLISHERS)]
    return data.machine[republisher][block], data.proxy_back[block], republisher


def with_boilerplate(french: list[str], english: list[str], block: int) -> tuple[str, str]:
    """Scraped-page lines around the text; their English is kept only where the cleaner keeps the line."""
    picks = [BOILERPLATE[(block * 7 + k * 5) % len(BOILERPLATE)] for k in range(5)]
    before, after = picks[:2 + block % 2], picks[2 + block % 2:]
    lines = [fr for fr, _ in before] + french + [fr for fr, _ in after]
    text = "\n\n".join(lines)
    cleaned = clean_text(text, "fr")
    kept = f"{cleaned.title}\n\n{cleaned.text}"
    survivors = lambda pairs: [en for fr, en in pairs if normalise_line(fr) and normalise_line(fr) in kept]
    return text, "\n".join(survivors(before) + english + survivors(after))


def noise_variant(data: Data, block: int, case: str, kind: str) -> tuple[str, str]:
    french, english, _ = case_lines(data, block, case)
    if kind == "boilerplate":
        return with_boilerplate(french, english, block)
    if kind == "partial":
        half = math.ceil(len(french) / 2)
        filler = orphan_near((block + PARTIAL_FILLER_OFFSET) % data.count, data.count)
        filler_back = data.human_back if case == "human" else data.proxy_back
        return ("\n\n".join(french[:half] + data.human[filler][half:]),
                "\n".join(english[:half] + filler_back[filler][half:]))
    keep = max(2, round(len(french) * TRUNCATED_SHARE))
    return "\n\n".join(french[:keep]), "\n".join(english[:keep])


def build(data: Data) -> dict[str, list[dict]]:
    articles, translations, labels = [], [], []
    fold = lambda block: block * FOLDS // data.count

    def add(article_id: str, french: str, english: str, block: int, case: str, variant: str, republisher: str):
        orphan = is_orphan(block)
        articles.append({"id": article_id, "text": french})
        translations.append({"id": article_id, "text": english})
        labels.append({
            "id": article_id,
            "source": None if orphan else source_id(EVAL_YEAR, block),
            "verdict": "unrelated" if orphan else ("translation" if case == "human" else "mt_republication"),
            "case": case, "variant": variant, "french_by": republisher,
            "back_translation": "real" if case == "human" else "proxy",
            "block": block, "fold": fold(block),
        })

    for block in range(data.count):
        for case in ("human", "machine"):
            french, english, republisher = case_lines(data, block, case)
            add(f"{case}-{block:03d}", "\n\n".join(french), "\n".join(english), block, case, "clean", republisher)
        case = ("human", "machine")[(block // len(NOISE_KINDS)) % 2]
        kind = NOISE_KINDS[block % len(NOISE_KINDS)]
        french, english = noise_variant(data, block, case, kind)
        add(f"{case}-{block:03d}-{kind}", french, english, block, case, kind, case_lines(data, block, case)[2])

    sources = [{"id": source_id(year, b), "text": "\n\n".join(lines)}
               for year in YEARS for b, lines in enumerate(data.english[year])
               if not (year == EVAL_YEAR and is_orphan(b))]
    forward = [{"id": source_id(EVAL_YEAR, b), "text": "\n\n".join(data.checker[b])}
               for b in range(data.count) if not is_orphan(b)]
    return {"articles": articles, "translations": translations, "sources": sources, "forward": forward,
            "labels": labels}


def write_jsonl(path: Path, records: Sequence[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared development data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the set")
    args = parser.parse_args(argv)
    if "eval-reserve" in str(args.data.resolve()):
        parser.error("the evaluation reserve is never used to build or tune anything")
    if not (args.data / "mt-outputs").is_dir():
        parser.error(f"no development data under {args.data} (needs testsets/fra-eng and mt-outputs)")
    files = build(Data(args.data))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, records in files.items():
        write_jsonl(args.out / f"{name}.jsonl", records)
    counts = Counter((label["verdict"], label["variant"]) for label in files["labels"])
    print(f"{len(files['articles'])} articles, {len(files['sources'])} sources, {len(files['forward'])} checker "
          f"French documents, blocks of {BLOCK_LINES} lines, {FOLDS} folds -> {args.out}")
    for (verdict, variant), count in sorted(counts.items()):
        print(f"  {verdict:17s} {variant:12s} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
