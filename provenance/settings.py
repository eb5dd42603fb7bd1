"""One frozen `Settings` object per run, with named defaults that the CLI reuses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "Helsinki-NLP/opus-mt-fr-en"
DEFAULT_FORWARD_MODEL = "Helsinki-NLP/opus-mt-en-fr"  # the forward check's en->fr checker (opt-in)
DEFAULT_OUT_DIR = Path("provenance-report")
STORE_NAME = "provenance.sqlite"  # inside the output folder unless --db says otherwise
DEFAULT_ENGINE = "torch"
DEFAULT_BEAMS = 1  # greedy: the republishers' MT is greedy-like, and it is 3-4x faster than beam 4
DEFAULT_BATCH_TOKENS = 4096  # source tokens per batch; halved on CUDA out-of-memory
MAX_INPUT_TOKENS = 512  # Marian's position limit; longer sentences are chunked, never truncated
DEFAULT_TOP_K = 10  # candidates scored with sacrebleu per article
ARTICLES_PER_STEP = 32  # articles translated and scored together, then committed to the store


@dataclass(frozen=True, slots=True)
class Settings:
    articles: tuple[Path, ...]
    sources: tuple[Path, ...] = ()
    out_dir: Path = DEFAULT_OUT_DIR
    db_path: Path | None = None
    model: str = DEFAULT_MODEL
    translations: Path | None = None  # precomputed English (JSONL id/text) instead of the model
    beams: int = DEFAULT_BEAMS
    batch_tokens: int = DEFAULT_BATCH_TOKENS
    device: str | None = None  # None: CUDA when available, else CPU
    engine: str = DEFAULT_ENGINE  # "torch" or "ct2" (CTranslate2, optional extra)
    dtype: str | None = None  # torch weights; None: float32 on CPU, float16 on CUDA
    quantize: str | None = None  # "int8": dynamic int8 on CPU, faster, changes some outputs
    compute_type: str | None = None  # CTranslate2's (int8, int16, float32, float16, int8_float16)
    shortlist: int | None = None  # output vocabulary shortlist size (torch engine): faster, changes some outputs
    top_k: int = DEFAULT_TOP_K
    window_days: int | None = None  # sources must predate the article by at most this many days
    thresholds: Path | None = None  # None: the thresholds file shipped with the package
    articles_per_step: int = ARTICLES_PER_STEP
    strict: bool = False  # re-raise unexpected per-item errors (tests)
    forward_model: str | None = None  # en->fr model for the forward check; None: no check unless a file
    forward_translations: Path | None = None  # precomputed checker French per source (JSONL id/text)
    ray: str | None = None  # None: run here; "local", "auto" or a ray:// address: run on Ray
    ray_actors: int | None = None  # translation actors; None: one per GPU (one on a CPU-only cluster)

    @property
    def store_path(self) -> Path:
        return self.db_path if self.db_path is not None else self.out_dir / STORE_NAME

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)
