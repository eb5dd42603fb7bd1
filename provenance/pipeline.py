"""`run(settings)`: documents -> segment -> translate -> retrieve -> score/align -> verdict -> report.

Articles go through in steps of `settings.articles_per_step`; each finished step is committed to the
store, so a rerun of the same command skips what is done. A bad item becomes an error entry in the
report and the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .align import (Alignment, SourceMatch, align_sentences, match_signals, match_sources, measure_coverage,
                    unexplained_sentences)
from .documents import Article, load_articles
from .errors import ItemError, ProvenanceError, UsageError
from .forward import ForwardChecker
from .report import SCHEMA_VERSION
from .retrieve import Candidate, SourceIndex, cluster_copies, index_path, open_index
from .score import PairScore, document_scores_many, metric_signatures, score_pair
from .segment import rejoin, segment_text, split_sentences
from .settings import Settings
from .store import Store
from .translate import Translator, load_translations, translate_cached
from .verdict import Label, Thresholds, Verdict, decide

log = logging.getLogger(__name__)

EVIDENCE_PAIRS = 5  # top aligned sentence pairs quoted in the report as evidence
# Candidates that also get a sentence alignment: the best few by doc chrF and the best few by TF-IDF
# similarity. Doc chrF alone misses partial copies: a source of which the article copies a third scores a
# doc chrF of 30-40, no better than an unrelated document (median 37.5 on newstest2013), while its TF-IDF
# similarity still stands out.
DOC_SCORE_SHORTLIST = 2
SIMILARITY_SHORTLIST = 2
# Ranking: doc chrF plus this many points per share of the article in well-aligned sentences, so that the
# source explaining most of the article wins (10% of the article outweighs 10 chrF points).
COVERAGE_RANK_WEIGHT = 100.0
# When the best source leaves a substantial part of the article unexplained, that part is queried again for
# this many more candidates: the second source of a compilation can be crowded out of the first top-k by
# versions of the first.
REMAINDER_TOP_K = 5


@dataclass(frozen=True, slots=True)
class LoadedSource:
    article: Article
    sentences: tuple[str, ...]


def run(settings: Settings, store: Store | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
    """Run the whole pipeline and return the report dict (the report.json contract)."""
    own_store = store is None
    store = store or Store(settings.store_path)
    try:
        return _run(settings, store, progress)
    finally:
        if own_store:
            store.close()


def _run(settings: Settings, store: Store, progress) -> dict:
    if not settings.articles:
        raise UsageError("no articles given")
    thresholds = Thresholds.load(settings.thresholds)
    sources, source_errors = _load_sources(settings.sources)
    index = open_index(index_path(store.path), [s.article for s in sources.values()])

    loaded = list(load_articles(settings.articles, lang="fr"))
    articles = [item for item in loaded if isinstance(item, Article)]

    run_id = make_run_id(settings, thresholds)
    resumed = store.open_run(run_id, _settings_record(settings, thresholds))
    done = store.finished_items(run_id)
    if resumed:
        log.info("resuming run %s: %d of %d items already done", run_id, len(done), len(loaded))

    # Load errors are items too: they keep their place in the report.
    store.save_items(
        run_id,
        [
            (_error_key(item), position, "error", _error_entry(item))
            for position, item in enumerate(loaded)
            if isinstance(item, ItemError) and _error_key(item) not in done
        ],
    )
    pending = [(pos, item) for pos, item in enumerate(loaded) if isinstance(item, Article) and item.id not in done]

    english = _EnglishSide(settings, store)
    forward = ForwardChecker.from_settings(settings, store)  # None: no forward check asked for
    step = max(1, settings.articles_per_step)
    finished_count = len(loaded) - len(pending)
    if progress:
        progress(finished_count, len(loaded))
    for start in range(0, len(pending), step):
        batch = pending[start : start + step]
        entries = _process_step(batch, english, index, sources, thresholds, settings, forward)
        store.save_items(run_id, entries)
        finished_count += len(batch)
        if progress:
            progress(finished_count, len(loaded))

    report = _assemble_report(run_id, settings, thresholds, store, articles, sources, source_errors)
    store.finish_run(run_id, report)
    return report


def _error_key(error: ItemError) -> str:
    """Store key of a load error: a duplicate shares its id with the article kept, so add where it came from."""
    return f"{error.item_id}@{error.origin}" if error.code == "duplicate_id" else error.item_id


def make_run_id(settings: Settings, thresholds: Thresholds) -> str:
    """Same inputs and options -> same id, so rerunning a command resumes it."""
    record = _settings_record(settings, thresholds)
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def _settings_record(settings: Settings, thresholds: Thresholds) -> dict:
    return {
        "articles": [str(Path(p).resolve()) for p in settings.articles],
        "sources": [str(Path(p).resolve()) for p in settings.sources],
        "model": None if settings.translations else settings.model,
        "translations": str(Path(settings.translations).resolve()) if settings.translations else None,
        "translations_digest": _file_digest(settings.translations) if settings.translations else None,
        "beams": settings.beams,
        "engine": None if settings.translations else translator_options(settings),
        "top_k": settings.top_k,
        **({"window_days": settings.window_days} if settings.window_days else {}),
        "thresholds": thresholds.version,
        "tool": __version__,
        **_forward_record(settings),
    }


def _forward_record(settings: Settings) -> dict:
    """The forward-check options, in the run id only when set (ids of runs without one do not change)."""
    checker = ForwardChecker.from_settings(settings)
    if checker is None:
        return {}
    given = checker.translations
    return {"forward": str(Path(given).resolve()) if given else checker.model,
            "forward_digest": _file_digest(given) if given else None}


def _file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]


def _load_sources(paths: Sequence[Path]) -> tuple[dict[str, LoadedSource], list[ItemError]]:
    sources: dict[str, LoadedSource] = {}
    errors: list[ItemError] = []
    for item in load_articles(paths, lang="en"):
        if isinstance(item, ItemError):
            errors.append(item)
            continue
        sources[item.id] = LoadedSource(item, tuple(split_sentences(item.full_text, "en")))
    return sources, errors


def translator_options(settings: Settings) -> dict:
    """Translator.load keywords from the settings: the same for a local run and for Ray actors."""
    options = {
        "model": settings.model,
        "device": settings.device,
        "beams": settings.beams,
        "batch_tokens": settings.batch_tokens,
        "engine": settings.engine,
    }
    optional = {"dtype": settings.dtype, "quantize": settings.quantize, "compute_type": settings.compute_type,
                "shortlist": settings.shortlist}
    options.update((key, value) for key, value in optional.items() if value is not None)
    return options


class _EnglishSide:
    """Back-translations: from the model (cached in the store) or from a --translations file."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.given: dict[str, str] | None = None
        self._translator: Translator | None = None
        if settings.translations:
            # A bad line is logged; its article then reports "missing_translation" in the report.
            self.given, bad_lines = load_translations(settings.translations)
            for error in bad_lines:
                log.warning("%s: %s", error.item_id, error.message)

    def translator(self) -> Translator:
        if self._translator is None:
            options = translator_options(self.settings)
            if self.settings.ray is not None:
                from .distributed import RayTranslator

                self._translator = RayTranslator(options, self.settings.ray, self.settings.ray_actors)
            else:
                self._translator = Translator.load(**options)
        return self._translator

    def back_translate(self, articles: Sequence[Article]) -> dict[str, tuple[list[str], list[str]] | ItemError]:
        """article id -> (French sentences, English sentences), or the item's error."""
        if self.given is not None:
            return {a.id: self._from_file(a) for a in articles}
        return self._from_model(articles)

    def _from_file(self, article: Article) -> tuple[list[str], list[str]] | ItemError:
        english = self.given.get(article.id)
        if english is None:
            return ItemError(
                article.id, "translate", "missing_translation",
                f"no line with id {article.id!r} in {self.settings.translations}", article.origin,
            )
        return split_sentences(article.full_text, "fr"), split_sentences(english, "en")

    def _from_model(self, articles: Sequence[Article]):
        translator = self.translator()
        results: dict[str, tuple[list[str], list[str]] | ItemError] = {}
        segmented = {}
        for article in articles:
            try:
                segmented[article.id] = segment_text(
                    article.id, article.full_text, "fr", translator.count_tokens, translator.max_input_tokens
                )
            except ProvenanceError as exc:
                results[article.id] = ItemError.from_exception(article.id, "segment", exc, article.origin)
        texts = [seg.text for segs in segmented.values() for seg in segs]
        translated = iter(translate_cached(texts, translator, self.store))
        for article_id, segments in segmented.items():
            outputs = [next(translated)[0] for _ in segments]
            french = rejoin(segments, [s.text for s in segments])
            results[article_id] = (french, rejoin(segments, outputs))
        return results


def _process_step(batch, english: _EnglishSide, index: SourceIndex, sources, thresholds, settings,
                  forward: ForwardChecker | None = None) -> list:
    articles = [article for _, article in batch]
    sides = english.back_translate(articles)  # a model that cannot load is a run-level error: it propagates
    entries = []
    jobs = []
    for position, article in batch:
        side = sides[article.id]
        if isinstance(side, ItemError):
            entries.append((article.id, position, "error", _error_entry(side, article)))
        else:
            jobs.append((position, article, side[0], side[1]))
    shared = (index, sources, thresholds, settings.top_k, settings.strict, forward, settings.window_days)
    if settings.ray is not None and jobs:
        from .distributed import judge_many

        entries.extend(judge_many(_judge_item, jobs, shared, settings.ray))
    else:
        entries.extend(_judge_item(*job, *shared) for job in jobs)
    return entries


def _judge_item(position, article, french, back, index, sources, thresholds, top_k, strict, forward=None,
                window_days=None) -> tuple:
    """One store row (id, position, status, entry); an article's failure becomes its error entry."""
    try:
        entry = _judge(article, french, back, index, sources, thresholds, top_k, forward, window_days=window_days)
        return article.id, position, "ok", entry
    except ProvenanceError as exc:
        error = ItemError.from_exception(article.id, "score", exc, article.origin)
    except Exception as exc:  # one article's bug must not sink a night's batch
        if strict:
            raise
        log.exception("internal error on article %s", article.id)
        error = ItemError.from_exception(article.id, "score", exc, article.origin)
    return article.id, position, "error", _error_entry(error, article)


def _judge(article: Article, french: list[str], back: list[str], index: SourceIndex, sources, thresholds, top_k,
           forward: ForwardChecker | None = None, candidates: Sequence[Candidate] | None = None,
           window_days: int | None = None):
    """One article's report entry; `candidates` when the index was already queried (benchmarks batch queries).

    With `window_days`, only sources dated on or before the article and at most that many days earlier
    are candidates (undated sources and undated articles are not filtered).
    """
    if candidates is None:
        window = {"published_before": article.date or None, "window_days": window_days} if window_days else {}
        candidates = index.query(article.id, " ".join(back), top_k, **window)
    scored = _score_candidates(article.id, back, candidates, sources)
    best = scored[0] if scored else None
    coverage = best.coverage if best else None
    check = None
    if forward is not None and best is not None:
        source_id = best.candidate.source_id
        check = forward.check(source_id, sources[source_id].sentences, french or split_sentences(article.full_text))
    verdict = decide(article.id, best.score if best else None, coverage, article.signals, thresholds, check)
    matches = []
    if best is not None and verdict.label is not Label.UNRELATED:
        # Best first, then the others in ranking order: compilations and partial copies name every source.
        scored = scored + _remainder_candidates(article.id, back, best, index, sources, [s.candidate for s in scored])
        found = match_sources(back, [sources[s.candidate.source_id].sentences for s in scored], best.alignments)
        matches = [(scored[match.position], match) for match in found]
    entry = _article_entry(article, french, back, candidates, scored, verdict, matches)
    entry["signals"] += [s for s in match_signals([m for _, m in matches], thresholds.partial_coverage)
                         if s not in entry["signals"]]
    return entry


@dataclass(frozen=True, slots=True)
class _Scored:
    candidate: Candidate
    score: PairScore
    alignments: tuple[Alignment, ...] | None
    coverage: object | None


def _score_candidates(article_id: str, back: list[str], candidates: Sequence[Candidate], sources) -> list[_Scored]:
    """Doc-level scores for every candidate (all at once); alignment for the likeliest few; best first.

    Aligned: the DOC_SCORE_SHORTLIST best by doc chrF and the SIMILARITY_SHORTLIST best by retrieval rank.
    The others keep TER over an empty alignment (every sentence unaligned) and cannot rank above an
    aligned candidate that explains part of the article.
    """
    if not back:
        return []
    references = [sources[cand.source_id].sentences for cand in candidates]
    documents = document_scores_many(back, references)
    by_chrf = sorted(range(len(candidates)), key=lambda i: (-documents[i][1], candidates[i].rank))
    by_rank = sorted(range(len(candidates)), key=lambda i: candidates[i].rank)
    aligned = set(by_chrf[:DOC_SCORE_SHORTLIST]) | set(by_rank[:SIMILARITY_SHORTLIST])
    scored = []
    for i, (cand, ref) in enumerate(zip(candidates, references)):
        links = align_sentences(back, ref) if i in aligned else []
        pair = score_pair(article_id, cand.source_id, back, ref, alignments=links, document=documents[i])
        if i in aligned:
            scored.append(_Scored(cand, pair, tuple(links), measure_coverage(links, back, ref)))
        else:
            scored.append(_Scored(cand, pair, None, None))
    scored.sort(key=lambda s: (-_rank_key(s), s.alignments is None, s.candidate.rank))
    return scored


def _remainder_candidates(article_id: str, back: list[str], best: _Scored, index: SourceIndex | None, sources,
                          known: Sequence[Candidate] = ()) -> list[_Scored]:
    """Sources retrieved with the part of the article `best` leaves unexplained, scored but not aligned.

    Ranked after the first query's candidates; their similarity is to that remainder.
    """
    remainder = unexplained_sentences(back, best.alignments or ())
    if not remainder or index is None:
        return []
    seen = {s.source_id for s in known} | {best.candidate.source_id}
    query = " ".join(back[i] for i in remainder)
    found = [c for c in index.query(article_id, query, REMAINDER_TOP_K + len(seen)) if c.source_id not in seen]
    last_rank = max((c.rank for c in known), default=best.candidate.rank)
    new = [Candidate(article_id, c.source_id, last_rank + n, c.similarity)
           for n, c in enumerate(found[:REMAINDER_TOP_K], start=1)]
    references = [sources[c.source_id].sentences for c in new]
    return [
        _Scored(c, score_pair(article_id, c.source_id, back, ref, alignments=[], document=document), None, None)
        for c, ref, document in zip(new, references, document_scores_many(back, references))
    ]


def _rank_key(scored: _Scored) -> float:
    # The share of the article explained by well-aligned sentences decides; doc chrF breaks near-ties.
    coverage = scored.coverage.article if scored.coverage is not None else 0.0
    return scored.score.chrf + COVERAGE_RANK_WEIGHT * coverage


def _article_entry(article: Article, french, back, candidates, scored: list[_Scored], verdict: Verdict,
                   matches: Sequence[tuple[_Scored, SourceMatch]] = ()) -> dict:
    best = scored[0] if scored and verdict.source_id else None
    entry = _base_entry(article)
    entry.update(
        status="ok",
        verdict=verdict.label.value,
        confidence=round(verdict.confidence, 4),
        reasons=list(verdict.reasons),
        best_source=_best_source_entry(best) if best else None,
        candidates=[
            {
                "id": s.candidate.source_id,
                "rank": s.candidate.rank,
                "similarity": round(s.candidate.similarity, 4),
                "bleu": round(s.score.bleu, 2),
                "chrf": round(s.score.chrf, 2),
                "ter": round(s.score.ter, 2),
            }
            for s in sorted(scored, key=lambda s: s.candidate.rank)
        ],
        sentences={"french": list(french), "back_translation": list(back)},
        decision={"candidate": verdict.candidate_id, "features": dict(verdict.features)},
        alignment=[
            {"french": list(link.src), "source": list(link.tgt), "chrf": round(link.chrf, 2), "kind": link.kind}
            for link in (best.alignments or ())
        ]
        if best
        else [],
        matches=[_match_entry(scored_source, match) for scored_source, match in matches],
    )
    entry["evidence"] = _evidence(entry, best)
    return entry


def _match_entry(scored: _Scored, match: SourceMatch) -> dict:
    """One source explaining part of the article: doc scores of the whole article, coverage, aligned spans."""
    return {
        "id": scored.candidate.source_id,
        "bleu": round(scored.score.bleu, 2),
        "chrf": round(scored.score.chrf, 2),
        "coverage": round(match.coverage.article, 4),
        "source_coverage": round(match.coverage.source, 4),
        "spans": [{"french": list(span.french), "source": list(span.source)} for span in match.spans],
    }


def _best_source_entry(best: _Scored) -> dict:
    return {
        "id": best.candidate.source_id,
        "bleu": round(best.score.bleu, 2),
        "chrf": round(best.score.chrf, 2),
        "ter": round(best.score.ter, 2),
        "coverage": round(best.coverage.article, 4) if best.coverage else None,
        "source_coverage": round(best.coverage.source, 4) if best.coverage else None,
    }


def _evidence(entry: dict, best: _Scored | None) -> list[dict]:
    if best is None:
        return []
    links = sorted(best.alignments or (), key=lambda link: -link.chrf)[:EVIDENCE_PAIRS]
    french, back = entry["sentences"]["french"], entry["sentences"]["back_translation"]
    # French and English line up sentence by sentence only when they were split together (the model path
    # always; a --translations file when its sentence count matches): otherwise quote no French.
    parallel = len(french) == len(back)
    return [
        {
            "french": " ".join(french[i] for i in link.src) if parallel else "",
            "back_translation": " ".join(back[i] for i in link.src),
            "source_index": list(link.tgt),
            "chrf": round(link.chrf, 2),
        }
        for link in links
    ]


def _base_entry(article: Article | None, item_id: str = "") -> dict:
    return {
        "id": article.id if article else item_id,
        "origin": article.origin if article else "",
        "title": article.title if article else "",
        "url": article.url if article else "",
        "date": article.date if article else "",
        "digest": article.digest if article else "",
        "status": "ok",
        "verdict": None,
        "confidence": None,
        "reasons": [],
        "best_source": None,
        "candidates": [],
        "signals": list(article.signals) if article else [],
        "cluster": None,
        "sentences": {"french": [], "back_translation": []},
        "alignment": [],
        "evidence": [],
        "matches": [],
        "removed": list(article.removed) if article else [],
        "errors": [],
    }


def _error_entry(error: ItemError, article: Article | None = None) -> dict:
    entry = _base_entry(article, error.item_id)
    entry["origin"] = entry["origin"] or error.origin
    entry.update(
        status="error",
        verdict="error",
        errors=[{"stage": error.stage, "code": error.code, "message": error.message}],
    )
    return entry


def _assemble_report(run_id, settings, thresholds, store, articles, sources, source_errors) -> dict:
    entries = list(store.iter_items(run_id))
    clusters = {member: cluster for cluster in cluster_copies(articles) for member in cluster.members}
    best_ids = set()  # sources the report quotes: every article's best source and other matches
    for entry in entries:
        best_ids.update(match["id"] for match in entry.get("matches", []))
        cluster = clusters.get(entry["id"])
        if cluster is not None:
            entry["cluster"] = {"id": cluster.id, "earliest": cluster.earliest, "members": list(cluster.members)}
        if entry.get("best_source"):
            source_id = entry["best_source"]["id"]
            best_ids.add(source_id)
            source = sources.get(source_id)
            entry["best_source"]["title"] = source.article.title if source else ""
            for item in entry["evidence"]:
                item["source"] = " ".join(
                    source.sentences[j] for j in item.pop("source_index", []) if source and j < len(source.sentences)
                )
    counts = {label: 0 for label in ("mt_republication", "translation", "unrelated", "error")}
    for entry in entries:
        counts[entry["verdict"]] = counts.get(entry["verdict"], 0) + 1
    created = datetime.fromtimestamp(store.run_created(run_id), timezone.utc).isoformat(timespec="seconds")
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "provenance", "version": __version__},
        "run": {
            "id": run_id,
            "created": created,
            "model": None if settings.translations else settings.model,
            "translations": str(settings.translations) if settings.translations else None,
            "beams": settings.beams,
            "top_k": settings.top_k,
            "thresholds": {k: v for k, v in thresholds.to_dict().items() if k != "measured"},
            "signatures": metric_signatures(),
        },
        "summary": {"articles": len(entries), **counts, "sources": len(sources), "source_errors": len(source_errors)},
        "articles": entries,
        "sources": {
            source_id: {
                "title": sources[source_id].article.title,
                "origin": sources[source_id].article.origin,
                "url": sources[source_id].article.url,
                "date": sources[source_id].article.date,
                "sentences": list(sources[source_id].sentences),
            }
            for source_id in sorted(best_ids)
            if source_id in sources
        },
        "source_errors": [
            {"item_id": e.item_id, "stage": e.stage, "code": e.code, "message": e.message, "origin": e.origin}
            for e in source_errors
        ],
    }

