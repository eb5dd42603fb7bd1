"""Find the likely English sources of a back-translated article without scoring every pair.

`SourceIndex` holds L2-normalised TF-IDF rows (English word unigrams and bigrams) of the
sources; a query is a sparse dot product against them, done in blocks of queries so that no
(queries x sources) matrix larger than one block ever exists, and only the top k survive. In a large
index the terms found in more than 1% of the sources are left out: they identify nothing and would
make most of the work. `open_index` keeps the index in a file next to the SQLite store, reused while
the sources stay the same, grown with `add` when a few are new, built again when any changed.
`cluster_copies` uses the same blockwise product on the French articles to group copies of one
story republished on several sites.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from provenance.errors import DuplicateId, MalformedRecord, UsageError
from provenance.settings import DEFAULT_TOP_K

if TYPE_CHECKING:
    from provenance.documents import Article

log = logging.getLogger(__name__)

# Word n-grams: unigrams find the topic, bigrams pin the exact wording a translation keeps.
NGRAM_RANGE = (1, 2)
# Most (query x source) products kept in memory at once (nonzeros of one block of queries):
# about 200 MB at the worst (a dense block); the block shrinks as the index grows.
MAX_BLOCK_PRODUCTS = 1 << 24
QUERY_BLOCK = 256  # queries multiplied together when the index is small enough
# Cosine of word-n-gram TF-IDF between two French article bodies above which they are copies of
# one story. Measured: newstest2013 documents vs copies with four boilerplate lines, other quote
# marks and one sentence dropped score 0.90-0.99, different documents at most 0.21; in the test
# fixtures short copies score 0.79-0.87 and a same-topic story at most 0.14. Character n-grams
# separated worse (different documents up to 0.41) at five times the nonzeros.
COPY_MIN_SIMILARITY = 0.6
# Terms found in more than this share of the sources, and in more than PRUNE_MIN_DOCUMENTS of them, are left
# out of the index: function words and the commonest bigrams identify nothing but make up most of the
# postings a query walks. Measured on 100,000 sources generated as in benchmarks/score_scale.py, with 500
# noisy copies as queries: 13.6 -> 1.4 ms per query, recall@1 and @10 1.0 either way (pruning at 0.2%:
# 0.5 ms, same recall; kept at 1% for margin). Indexes of up to PRUNE_MIN_DOCUMENTS sources lose nothing.
PRUNE_DOCUMENT_SHARE = 0.01
PRUNE_MIN_DOCUMENTS = 1000
INDEX_FORMAT_VERSION = 2  # bump when the saved arrays change meaning (2: per-source content keys, pruning)
INDEX_SUFFIX = ".index.npz"  # a store's index lives next to it: provenance.sqlite.index.npz
# Sources `add`ed to a loaded index use its old vocabulary and idf; past this share of the index, it is
# built again from all sources so that their own words count.
REBUILD_ADDED_SHARE = 0.2

_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_NO_DAY = np.iinfo(np.int64).min  # sentinel ordinal for a missing or unreadable date


@dataclass(frozen=True, slots=True)
class Candidate:
    """One likely source of an article; rank 1 is the most similar."""

    article_id: str
    source_id: str
    rank: int
    similarity: float


@dataclass(frozen=True, slots=True)
class CopyCluster:
    """French articles that are copies of one another; `earliest` is the first published."""

    id: str
    members: tuple[str, ...]
    earliest: str


def _vectorizer_options() -> dict:
    return {"ngram_range": NGRAM_RANGE, "lowercase": True, "strip_accents": "unicode", "dtype": np.float32}


def _date_span(value: str) -> tuple[int, int]:
    """First and last day (proleptic ordinals) a "yyyy[-mm[-dd]]" date can mean; sentinels if unreadable."""
    match = _DATE.match(value or "")
    if not match:
        return _NO_DAY, _NO_DAY
    year, month, day = (int(part) if part else None for part in match.groups())
    try:
        if day is not None:
            ordinal = dt.date(year, month, day).toordinal()
            return ordinal, ordinal
        if month is not None:
            first = dt.date(year, month, 1)
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            return first.toordinal(), following.toordinal() - 1
        return dt.date(year, 1, 1).toordinal(), dt.date(year, 12, 31).toordinal()
    except ValueError:  # 2013-13-40 and the like: treat as no date
        return _NO_DAY, _NO_DAY


def _check_unique(ids: Iterable[str], known: Iterable[str] = ()) -> None:
    seen = set(known)
    for item_id in ids:
        if item_id in seen:
            raise DuplicateId(f"duplicate id {item_id!r}")
        seen.add(item_id)


def _block_rows(n_columns: int) -> int:
    """Queries per block, so a block's product stays under MAX_BLOCK_PRODUCTS entries."""
    return max(1, min(QUERY_BLOCK, MAX_BLOCK_PRODUCTS // max(1, n_columns)))


def _row_products(
    queries: sparse.csr_matrix, targets: sparse.csc_matrix
) -> Iterable[tuple[int, np.ndarray, np.ndarray]]:
    """(query row, target row numbers, similarities) for each query's nonzero products, block by block.

    `targets` is column-major so that its transpose is a row-major term -> sources posting list
    without a copy: the product then walks only the postings of each query's terms.
    """
    postings = targets.T
    step = _block_rows(targets.shape[0])
    for start in range(0, queries.shape[0], step):
        block = (queries[start : start + step] @ postings).tocsr()
        for offset in range(block.shape[0]):
            lo, hi = block.indptr[offset], block.indptr[offset + 1]
            yield start + offset, block.indices[lo:hi], block.data[lo:hi]


def _top_k(columns: np.ndarray, scores: np.ndarray, k: int, tie_order: np.ndarray) -> np.ndarray:
    """Positions (into `columns`) of the k best scores, best first, ties broken by `tie_order`."""
    if len(scores) > k:
        # Keep everything tied with the k-th score so that the tie-break, not argpartition, decides.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        kept = np.flatnonzero(scores >= kth)
    else:
        kept = np.arange(len(scores))
    order = np.lexsort((tie_order[columns[kept]], -scores[kept]))
    return kept[order[:k]]


class SourceIndex:
    """TF-IDF rows of the English sources, queried by sparse dot products.

    Build it once with `build`; `add` appends sources later using the fitted vocabulary and idf
    (words unseen at build time are ignored for them, and the idf does not move) until the index
    is built again from all sources; `added_since_build` says how many rows that concerns.
    `save`/`load` (or `to_arrays`/`from_arrays`) keep it as numpy arrays plus a JSON vocabulary.
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        idf: np.ndarray,
        matrix: sparse.spmatrix,
        source_ids: Sequence[str],
        dates: Sequence[str],
        added_since_build: int = 0,
        content_keys: Sequence[str] | None = None,
    ) -> None:
        if matrix.shape != (len(source_ids), len(vocabulary)) or len(dates) != len(source_ids):
            raise MalformedRecord("index arrays disagree in size")
        if content_keys is not None and len(content_keys) != len(source_ids):
            raise MalformedRecord("index arrays disagree in size")
        self._vocabulary = tuple(vocabulary)
        self._idf = np.asarray(idf, dtype=np.float32)
        self._matrix = sparse.csc_matrix(matrix, dtype=np.float32)  # column-major: see _row_products
        self._ids = list(source_ids)
        self._dates = list(dates)
        self._keys = list(content_keys) if content_keys is not None else [""] * len(self._ids)
        self.added_since_build = added_since_build
        self._counter = (
            CountVectorizer(vocabulary={term: i for i, term in enumerate(self._vocabulary)}, **_vectorizer_options())
            if self._vocabulary
            else None
        )
        self._refresh_columns()

    # ---- building ---------------------------------------------------------------------------
    @classmethod
    def build(cls, sources: Sequence["Article"]) -> "SourceIndex":
        """Fit the vocabulary and idf on `sources` (also the way to rebuild after many `add`s)."""
        _check_unique(source.id for source in sources)
        texts = [source.full_text for source in sources]
        counter = CountVectorizer(**_vectorizer_options())
        ids, dates, keys = [s.id for s in sources], [s.date for s in sources], [content_key(s) for s in sources]
        try:
            counts = counter.fit_transform(texts).tocsr()
        except ValueError:
            if any(counter.build_analyzer()(text) for text in texts):
                raise
            # No words at all (or no sources): an empty index that answers every query with [].
            empty = sparse.csr_matrix((len(texts), 0), dtype=np.float32)
            return cls((), np.zeros(0, np.float32), empty, ids, dates, content_keys=keys)
        vocabulary = np.array(sorted(counter.vocabulary_, key=counter.vocabulary_.__getitem__), dtype=object)
        document_frequency = np.bincount(counts.indices, minlength=len(vocabulary))
        # TfidfVectorizer's smooth idf, computed on all sources before pruning.
        idf = (np.log((1 + len(texts)) / (1 + document_frequency)) + 1).astype(np.float32)
        kept = _kept_terms(document_frequency, len(texts))
        if not kept.all():
            log.info("left %d of %d terms out of the index (in more than %d sources)", (~kept).sum(),
                     len(kept), _prune_limit(len(texts)))
            counts = counts[:, kept]
        return cls(vocabulary[kept].tolist(), idf[kept], _tfidf_rows(counts, idf[kept]), ids, dates,
                   content_keys=keys)

    def add(self, sources: Sequence["Article"]) -> None:
        """Append sources, weighted with the vocabulary and idf fitted at build time."""
        _check_unique((source.id for source in sources), known=self._ids)
        if not sources:
            return
        rows = self._vectorize([source.full_text for source in sources])
        self._matrix = sparse.vstack([self._matrix, rows], format="csc", dtype=np.float32)
        self._ids.extend(source.id for source in sources)
        self._dates.extend(source.date for source in sources)
        self._keys.extend(content_key(source) for source in sources)
        self.added_since_build += len(sources)
        self._refresh_columns()

    def _refresh_columns(self) -> None:
        """Per-source arrays the queries need: tie-break order and date spans."""
        self._id_order = np.argsort(np.argsort(np.array(self._ids, dtype=object), kind="stable"), kind="stable")
        spans = np.array([_date_span(date) for date in self._dates], dtype=np.int64).reshape(-1, 2)
        self._first_day, self._last_day = spans[:, 0], spans[:, 1]

    def _vectorize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Same weighting as TfidfVectorizer(sublinear_tf=True, norm="l2") with the fitted idf."""
        if self._counter is None:
            return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
        return _tfidf_rows(self._counter.transform(texts), self._idf)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def source_ids(self) -> tuple[str, ...]:
        return tuple(self._ids)

    def content_keys(self) -> dict[str, str]:
        """Source id -> `content_key` of the text and date it was indexed with."""
        return dict(zip(self._ids, self._keys))

    # ---- querying ---------------------------------------------------------------------------
    def query(
        self,
        article_id: str,
        english_text: str,
        k: int = DEFAULT_TOP_K,
        *,
        published_before: str | None = None,
        window_days: int | None = None,
    ) -> list[Candidate]:
        """Top-k sources for one back-translated article; see `query_many`."""
        dates = None if published_before is None else [published_before]
        return self.query_many([(article_id, english_text)], k, published_before=dates, window_days=window_days)[0]

    def query_many(
        self,
        items: Sequence[tuple[str, str]],
        k: int = DEFAULT_TOP_K,
        *,
        published_before: Sequence[str | None] | None = None,
        window_days: int | None = None,
    ) -> list[list[Candidate]]:
        """Top-k sources for each (article_id, english_text), ranked 1..k by cosine similarity.

        Ties go to the smaller source id; sources with similarity 0 are never returned, so a query
        with no known word gets []. `published_before` (one date per item, "yyyy-mm-dd", "yyyy-mm"
        or "yyyy"; None for no filter) keeps only sources published on or before the article's date
        (a republication can appear the same day), and with `window_days` at most that many days
        earlier. Partial dates count in the sources' favour (a "2013-05" source passes for a
        "2013-05-02" article). Sources without a readable date are always kept: a missing date must
        not hide the true source. Unreadable article dates mean no filter for that article.
        """
        if k < 1:
            raise UsageError(f"k must be at least 1, got {k}")
        if window_days is not None and window_days < 0:
            raise UsageError(f"window_days must be >= 0, got {window_days}")
        if published_before is not None and len(published_before) != len(items):
            raise UsageError("published_before needs one date (or None) per item")
        results: list[list[Candidate]] = [[] for _ in items]
        if not items or not len(self) or self._counter is None:
            return results
        queries = self._vectorize([text for _, text in items])
        for row, columns, scores in _row_products(queries, self._matrix):
            if published_before is not None and published_before[row] is not None:
                keep = self._date_mask(columns, published_before[row], window_days)
                columns, scores = columns[keep], scores[keep]
            keep = scores > 0
            columns, scores = columns[keep], scores[keep]
            best = _top_k(columns, scores, k, self._id_order)
            article_id = items[row][0]
            results[row] = [
                Candidate(article_id, self._ids[columns[i]], rank, float(scores[i]))
                for rank, i in enumerate(best, start=1)
            ]
        return results

    def _date_mask(self, columns: np.ndarray, published: str, window_days: int | None) -> np.ndarray:
        """Which of `columns` may be the source of an article published on `published`."""
        article_first, article_last = _date_span(published)
        if article_first == _NO_DAY:
            log.debug("unreadable article date %r: no date filter", published)
            return np.ones(len(columns), dtype=bool)
        first, last = self._first_day[columns], self._last_day[columns]
        undated = first == _NO_DAY
        keep = first <= article_last
        if window_days is not None:
            keep &= article_first - last <= window_days
        return keep | undated

    # ---- persistence ------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays (the JSON part as UTF-8 bytes, the matrix as CSC) for `from_arrays`; no pickle."""
        meta = {
            "format_version": INDEX_FORMAT_VERSION,
            "vocabulary": list(self._vocabulary),
            "source_ids": self._ids,
            "dates": self._dates,
            "content_keys": self._keys,
            "added_since_build": self.added_since_build,
        }
        matrix = self._matrix
        return {
            "meta_json": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            "idf": self._idf,
            "data": matrix.data,
            "indices": matrix.indices,
            "indptr": matrix.indptr,
            "shape": np.array(matrix.shape, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays) -> "SourceIndex":
        """Rebuild from `to_arrays` output (or an opened .npz); MalformedRecord if it does not fit."""
        try:
            meta = json.loads(bytes(np.asarray(arrays["meta_json"], dtype=np.uint8)).decode("utf-8"))
            if meta.get("format_version") != INDEX_FORMAT_VERSION:
                raise MalformedRecord(f"index format {meta.get('format_version')!r}, expected {INDEX_FORMAT_VERSION}")
            shape = tuple(int(n) for n in arrays["shape"])
            matrix = sparse.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
            return cls(meta["vocabulary"], arrays["idf"], matrix, meta["source_ids"], meta["dates"],
                       meta.get("added_since_build", 0), meta["content_keys"])
        except (KeyError, ValueError, TypeError) as exc:
            raise MalformedRecord(f"not a saved source index: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write one .npz file (numpy adds ".npz" to a name without it).

        Uncompressed on purpose: compression made saving ~40x slower for ~40% less disk.
        """
        np.savez(path, **self.to_arrays())

    @classmethod
    def load(cls, path: str | Path) -> "SourceIndex":
        with np.load(path, allow_pickle=False) as arrays:
            return cls.from_arrays(arrays)


def content_key(source: "Article") -> str:
    """Fingerprint of what the index holds of a source (its text and date): a change means re-indexing."""
    return hashlib.sha256(f"{source.date}\n{source.full_text}".encode("utf-8")).hexdigest()[:16]


def index_path(store_path: str | Path) -> Path | None:
    """Where the source index of a store is kept (next to it); None for an in-memory store."""
    if str(store_path) == ":memory:":
        return None
    return Path(f"{store_path}{INDEX_SUFFIX}")


def open_index(path: str | Path | None, sources: Sequence["Article"]) -> SourceIndex:
    """The index of `sources`: loaded from `path` when it was built from them, else built and saved there.

    A saved index is reused as it is when it holds exactly these sources (same ids, texts and dates);
    new sources are `add`ed to it, unless they would make up more than REBUILD_ADDED_SHARE of it; a source
    that changed or disappeared means building it again. An unreadable file is rebuilt with a warning.
    `path` None: build in memory, save nothing.
    """
    _check_unique(source.id for source in sources)
    if path is None:
        return SourceIndex.build(sources)
    path = Path(path)
    index = _load_saved(path)
    if index is not None and _still_valid(index, sources):
        indexed = index.content_keys()
        new = [source for source in sources if source.id not in indexed]
        if not new:
            log.info("reusing the source index %s (%d sources)", path, len(index))
            return index
        if index.added_since_build + len(new) <= REBUILD_ADDED_SHARE * (len(index) + len(new)):
            log.info("adding %d new sources to the source index %s", len(new), path)
            index.add(new)
            _save_atomically(index, path)
            return index
        log.info("%d new sources: building the source index again", len(new))
    log.info("building the source index of %d sources in %s", len(sources), path)
    index = SourceIndex.build(sources)
    _save_atomically(index, path)
    return index


def _load_saved(path: Path) -> SourceIndex | None:
    if not path.exists():
        return None
    try:
        return SourceIndex.load(path)
    except (MalformedRecord, OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("cannot read the source index %s (%s): building it again", path, exc)
        return None


def _still_valid(index: SourceIndex, sources: Sequence["Article"]) -> bool:
    """True when every indexed source is still given with the same text and date."""
    indexed = index.content_keys()
    current = {source.id: source for source in sources}
    stale = [source_id for source_id, key in indexed.items()
             if source_id not in current or content_key(current[source_id]) != key]
    if stale:
        log.info("%d indexed sources changed or were removed (e.g. %r): building the source index again",
                 len(stale), stale[0])
    return not stale


def _save_atomically(index: SourceIndex, path: Path) -> None:
    """Write next to `path`, then rename: a reader never sees half a file, a crash leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial.npz")
    try:
        index.save(partial)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        log.warning("cannot save the source index to %s (%s): it will be built again next time", path, exc)


def _tfidf_rows(counts: sparse.spmatrix, idf: np.ndarray) -> sparse.csr_matrix:
    """TfidfVectorizer(sublinear_tf=True, norm="l2") weighting of term counts with a given idf."""
    weighted = sparse.csr_matrix(counts, dtype=np.float32, copy=True)
    weighted.data = np.log(weighted.data) + 1.0
    weighted = sparse.csr_matrix(weighted.multiply(idf), dtype=np.float32)
    return normalize(weighted, norm="l2", copy=False)


def _prune_limit(source_count: int) -> int:
    """Most sources a term may appear in and still be indexed."""
    return max(PRUNE_MIN_DOCUMENTS, int(PRUNE_DOCUMENT_SHARE * source_count))


def _kept_terms(document_frequency: np.ndarray, source_count: int) -> np.ndarray:
    kept = document_frequency <= _prune_limit(source_count)
    return kept if kept.any() else np.ones_like(kept)  # never prune a corpus down to nothing


# ---- French copies of one story ---------------------------------------------------------------
def _copy_vectors(articles: Sequence["Article"]) -> sparse.csr_matrix:
    """Word-n-gram TF-IDF of the article bodies (titles differ between copies, so they stay out)."""
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=1, **_vectorizer_options())
    try:
        return vectorizer.fit_transform([article.text for article in articles]).tocsr()
    except ValueError:
        if any(vectorizer.build_analyzer()(article.text) for article in articles):
            raise
        return sparse.csr_matrix((len(articles), 0), dtype=np.float32)


def _find(parent: list[int], node: int) -> int:
    while parent[node] != node:
        parent[node] = parent[parent[node]]  # path halving keeps the trees flat
        node = parent[node]
    return node


def _union_pairs(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected groups (as sorted index lists) of the graph given by `pairs`."""
    parent = list(range(n))
    for left, right in pairs:
        root_left, root_right = _find(parent, left), _find(parent, right)
        if root_left != root_right:
            parent[max(root_left, root_right)] = min(root_left, root_right)
    groups: dict[int, list[int]] = {}
    for node in range(n):
        groups.setdefault(_find(parent, node), []).append(node)
    return list(groups.values())


def _similar_pairs(
    vectors: sparse.csr_matrix, by_column: sparse.csc_matrix, min_similarity: float
) -> Iterable[tuple[int, int]]:
    """Index pairs (i < j) with cosine >= min_similarity; `by_column` is `vectors` as CSC."""
    for row, columns, scores in _row_products(vectors, by_column):
        for column in columns[(scores >= min_similarity) & (columns > row)]:
            yield row, int(column)


def _date_sort_key(article: "Article") -> tuple[bool, int, str]:
    first_day, _ = _date_span(article.date)
    return first_day == _NO_DAY, first_day, article.id  # missing dates last, then by id


def _cluster_id(member_ids: Iterable[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(member_ids)).encode("utf-8")).hexdigest()
    return "copy-" + digest[:8]


def cluster_copies(articles: Sequence["Article"], min_similarity: float = COPY_MIN_SIMILARITY) -> list[CopyCluster]:
    """Group articles whose bodies are copies of one another (cosine >= `min_similarity`).

    Copies are linked transitively (A~B and B~C put A, B, C together). Only groups of two or more
    are returned, sorted by id; members are sorted by id, and the cluster id is "copy-" plus the
    first 8 hex digits of sha256 over the sorted member ids joined by newlines, so it does not
    depend on input order. `earliest` is the member with the earliest date (missing dates last,
    ties by id).
    """
    if not 0 < min_similarity <= 1:
        raise UsageError(f"min_similarity must be in (0, 1], got {min_similarity}")
    _check_unique(article.id for article in articles)
    if len(articles) < 2:
        return []
    vectors = _copy_vectors(articles)
    clusters = []
    pairs = _similar_pairs(vectors, vectors.tocsc(), min_similarity)
    for group in _union_pairs(len(articles), pairs):
        if len(group) < 2:
            continue
        members = [articles[i] for i in group]
        clusters.append(
            CopyCluster(
                id=_cluster_id(m.id for m in members),
                members=tuple(sorted(m.id for m in members)),
                earliest=min(members, key=_date_sort_key).id,
            )
        )
    return sorted(clusters, key=lambda cluster: cluster.id)
