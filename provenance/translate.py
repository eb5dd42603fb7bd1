"""Back-translation French -> English with a MarianMT model, batched by tokens and cached in the store.

`Translator` wraps one Marian model, its tokenizer and a decoding engine (provenance.engine: the torch
loop, exact against `generate` in fp32, optionally int8 or shortlisted; provenance.engine_ct2:
CTranslate2). `translate` sorts inputs by token length, fills batches under a token budget (padded
source tokens x beams), translates identical texts once and halves the budget on CUDA out-of-memory.
Each input stops after its own length cap, so a translation does not depend on its batch neighbours:
that is what makes caching by source text sound. `translate_cached` adds the run memo and the SQLite
cache; `translate_iterable` streams.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DuplicateId, ItemError, MalformedRecord, ModelUnavailable, TooLarge, UsageError
from .settings import DEFAULT_BATCH_TOKENS, DEFAULT_BEAMS, DEFAULT_MODEL, MAX_INPUT_TOKENS

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

# Output cap per input: English back-translations of French are shorter than the French, so twice the
# input plus a little slack is never reached by a sane model; it stops degenerate repetition loops early.
OUTPUT_LENGTH_RATIO = 2
OUTPUT_LENGTH_SLACK = 10

# Files that make up a model folder; the hint names them so a user knows what to copy.
MODEL_FOLDER_FILES = "config.json, model weights (model.safetensors or pytorch_model.bin), source.spm, target.spm, vocab.json"
_REQUIRED_FILES = ("config.json", "source.spm", "target.spm", "vocab.json")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
# Files whose change changes the translations: hashed by content when small, else by name/size/mtime.
_IDENTITY_SUFFIXES = (".json", ".spm", ".safetensors", ".bin")
_HASHED_CONTENT_LIMIT = 64 * 1024
_TRUE_FLAGS = {"1", "ON", "YES", "TRUE"}

ENGINES = ("torch", "ct2")
DEFAULT_ENGINE = "torch"
DTYPES = ("float32", "float16", "bfloat16")
RUN_MEMO_SIZE = 200_000  # distinct sentences remembered per run (~60 MB): reprints across steps run once
STREAM_CHUNK = 4096  # distinct new texts per translate_cached call in translate_iterable: full batches
STREAM_BUFFER_CHUNKS = 16  # ...and at most this many chunks' worth of texts held, repeats included
PROGRESS_MIN_SENTENCES = 2000  # below this a run takes seconds: no progress bar


@dataclass(frozen=True, slots=True)
class Translation:
    """The English back-translation of one French segment."""

    article_id: str
    index: int  # position of the segment in its article
    source: str
    text: str
    model_id: str
    cached: bool


class Translator:
    """A Marian model and its tokenizer on one device, with batching, length caps and OOM backoff.

    The decoding itself is an engine's job: `TorchEngine` (provenance.engine, the default) or
    `CTranslate2Engine` (provenance.engine_ct2, optional extra `provenance[ct2]`).
    """

    def __init__(self, model: Any, tokenizer: Any, *, model_id: str, model_key: str, device: str,
                 beams: int = DEFAULT_BEAMS, batch_tokens: int = DEFAULT_BATCH_TOKENS, engine: Any = None,
                 progress: bool | None = None):
        self._model = model
        self._tokenizer = tokenizer
        self._engine = engine if engine is not None else _torch_engine(model)
        self.model_id = model_id
        self.model_key = model_key
        self.device = device
        self.beams = beams
        self.batch_tokens = batch_tokens  # halved for good after a CUDA out-of-memory error
        self.progress = progress  # None: a progress bar on an interactive stderr for long inputs
        # Benchmarks only: every row emits exactly this many tokens (EOS suppressed before, forced at it).
        self.fixed_output_tokens: int | None = None
        self.max_input_tokens = min(
            int(tokenizer.model_max_length), int(model.config.max_position_embeddings), MAX_INPUT_TOKENS
        )
        self.memo = RunMemo()  # this run's translations, for translate_cached

    @classmethod
    def load(cls, model: str | Path = DEFAULT_MODEL, *, device: str | None = None, beams: int = DEFAULT_BEAMS,
             batch_tokens: int = DEFAULT_BATCH_TOKENS, engine: str = DEFAULT_ENGINE, dtype: str | None = None,
             quantize: str | None = None, compute_type: str | None = None, shortlist: int | None = None,
             shortlist_texts: Iterable[str] | None = None, progress: bool | None = None) -> "Translator":
        """Load a hub id or a local folder; raises ModelUnavailable with one actionable line.

        engine: "torch" (default) or "ct2" (CTranslate2, `pip install provenance[ct2]`).
        dtype: torch weights, "float32" (CPU default), "float16" (CUDA default) or "bfloat16" (CUDA).
        quantize: "int8" for dynamic int8 linear layers (torch on CPU; faster, changes some outputs).
        compute_type: CTranslate2's, e.g. int8/int16/float32 on CPU (int8 default), float16/int8_float16 on CUDA.
        shortlist: score only this many frequent target tokens plus each batch's source tokens (torch
            engine; much faster on CPU, changes outputs); frequencies from `shortlist_texts` (English
            text) when given, else from the target SentencePiece model's piece scores.
        """
        model = str(model)
        _check_options(beams, batch_tokens, engine, dtype, quantize, compute_type, shortlist)
        torch = _import_torch(model)
        device = _pick_device(torch, device)
        if quantize is not None and device != "cpu":
            raise UsageError(f"--quantize {quantize} is for the CPU; on {device} use float16 (the default)")
        torch_dtype = _torch_dtype(torch, dtype, device) if engine == "torch" else torch.float32
        folder = _as_folder(model)
        if folder is not None:
            marian, tokenizer = _load_folder(model, folder, torch_dtype)
            model_id, identity = str(folder), f"{folder.name}@sha256:{_folder_fingerprint(folder)}"
        else:
            marian, tokenizer, commit = _load_hub(model, torch_dtype)
            model_id, identity = model, f"{model}@{commit}"
        marian.to(device).eval()
        options = [f"beams={beams}"]
        if engine == "ct2":
            from .engine_ct2 import CTranslate2Engine

            decoder = CTranslate2Engine.load(marian, tokenizer, source=folder or model, identity=identity,
                                             device=device, compute_type=compute_type)
            options.append(f"engine=ct2:{decoder.compute_type}")
        else:
            short = _shortlist(marian, tokenizer, shortlist, shortlist_texts) if shortlist else None
            decoder = _torch_engine(marian, quantize=quantize, shortlist=short)
            if torch_dtype != torch.float32:
                options.append(f"dtype={str(torch_dtype).removeprefix('torch.')}")
            if quantize:
                options.append(f"quantize={quantize}")
            if short is not None:
                options.append(f"shortlist={shortlist}@{short.digest}")
        translator = cls(marian, tokenizer, model_id=model_id, model_key=f"{identity};{';'.join(options)}",
                         device=device, beams=beams, batch_tokens=batch_tokens, engine=decoder, progress=progress)
        log.info("loaded %s on %s (%s engine), key %s", model_id, device, engine, translator.model_key)
        return translator

    def __repr__(self) -> str:
        return f"Translator({self.model_id!r}, device={self.device!r}, beams={self.beams}, batch_tokens={self.batch_tokens})"

    def count_tokens(self, text: str) -> int:
        """Source tokens the model sees for `text`, end-of-sentence token included."""
        return len(self._tokenizer(text)["input_ids"])

    def translate(self, texts: Sequence[str]) -> list[str]:
        """English for each text, in order; blank texts give "" and identical texts run once."""
        outputs = [""] * len(texts)
        first: dict[str, int] = {}
        for i, text in enumerate(texts):
            if text.strip():
                first.setdefault(text, i)
        todo = list(first.values())
        if not todo:
            return outputs
        lengths = dict(zip(todo, (len(ids) for ids in self._tokenizer([texts[i] for i in todo])["input_ids"])))
        self._check_lengths(lengths)
        longest_first = sorted(todo, key=lambda i: -lengths[i])  # stable: equal lengths keep input order
        pending = deque(_plan_batches(longest_first, lengths, self.batch_tokens, self.beams))
        with _progress_bar(len(todo), self.progress) as bar:
            while pending:
                batch = pending.popleft()
                translated = self._generate_or_none([texts[i] for i in batch], [lengths[i] for i in batch])
                if translated is None:  # out of memory: retry these rows in smaller batches
                    self._halve_budget(len(batch), max(lengths[i] for i in batch))
                    pending.extendleft(reversed(_plan_batches(batch, lengths, self.batch_tokens, self.beams)))
                    continue
                for i, english in zip(batch, translated, strict=True):
                    outputs[i] = english
                bar.update(len(batch))
        for i, text in enumerate(texts):
            if text.strip() and first[text] != i:
                outputs[i] = outputs[first[text]]
        return outputs

    def _check_lengths(self, lengths: dict[int, int]) -> None:
        too_long = [(i, n) for i, n in lengths.items() if n > self.max_input_tokens]
        if too_long:
            i, n = too_long[0]
            raise TooLarge(
                f"text {i} has {n} tokens but {self.model_id} accepts at most {self.max_input_tokens} "
                f"({len(too_long)} text(s) too long); split long sentences first (segment_text does), "
                "they are never truncated"
            )

    def _generate_or_none(self, texts: list[str], lengths: list[int]) -> list[str] | None:
        """Translations, or None when CUDA ran out of memory on a batch that can still be split."""
        try:
            return self._generate(texts)
        except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
            if not _is_out_of_memory(exc):
                raise
            if len(texts) == 1:
                raise TooLarge(
                    f"a sentence of {lengths[0]} tokens does not fit in {self.device} memory even alone; "
                    "free GPU memory, run with --device cpu, or cut sentences shorter"
                ) from exc
        # Out of the except block, so the traceback's tensors are released before the cache is emptied.
        _empty_cuda_cache()
        return None

    def _halve_budget(self, rows: int, longest: int) -> None:
        # Half of what failed: the budget itself when the batch filled it, else the batch's padded size
        # (halving a budget that a small batch does not reach would retry the same batch).
        self.batch_tokens = max(1, min(self.batch_tokens, rows * self.beams * longest) // 2)
        log.warning("out of memory on %d sentences of up to %d tokens; batch budget halved to %d tokens",
                    rows, longest, self.batch_tokens)

    def _generate(self, texts: list[str]) -> list[str]:
        """One batch through the engine: the only place that decodes (tests replace it)."""
        ids = self._generate_ids(texts)
        return [text.strip() for text in self._tokenizer.batch_decode(ids, skip_special_tokens=True)]

    def _generate_ids(self, texts: list[str]) -> list[list[int]]:
        """New target token ids per text, EOS and padding removed."""
        from .engine import DecodeRequest

        inputs = self._encode(texts)
        if self.fixed_output_tokens is not None:
            limits = [self.fixed_output_tokens] * len(texts)
            min_new_tokens = self.fixed_output_tokens
        else:
            # Each row stops at its own cap, so a translation never depends on its batch neighbours.
            limits = [min(self.max_input_tokens, OUTPUT_LENGTH_RATIO * int(n) + OUTPUT_LENGTH_SLACK)
                      for n in inputs["attention_mask"].sum(dim=1).tolist()]
            min_new_tokens = 0
        request = DecodeRequest(inputs["input_ids"], inputs["attention_mask"], tuple(limits), self.beams, min_new_tokens)
        return self._engine.generate(request)

    def _encode(self, texts: Sequence[str]) -> dict:
        """Padded source tensors with their attention mask, on the model's device."""
        batch = self._tokenizer(list(texts), return_tensors="pt", padding=True)
        return {name: tensor.to(self._model.device) for name, tensor in batch.items()}



class RunMemo:
    """This run's translations, newest last, bounded: reprints across steps are translated once."""

    def __init__(self, size: int = RUN_MEMO_SIZE):
        self.size = size
        self._entries: OrderedDict[str, str] = OrderedDict()

    def __contains__(self, text: str) -> bool:
        return text in self._entries

    def __getitem__(self, text: str) -> str:
        return self._entries[text]

    def remember(self, pairs: Iterable[tuple[str, str]]) -> None:
        for text, english in pairs:
            self._entries[text] = english
            self._entries.move_to_end(text)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def translate_cached(texts: Sequence[str], translator: Translator, store: Store | None) -> list[tuple[str, bool]]:
    """(translation, was_cached) per input: each distinct text translated once per run and stored.

    Texts seen earlier in this run (the translator's memo) or in the store count as cached.
    """
    distinct = list(dict.fromkeys(texts))
    cached = {text: translator.memo[text] for text in distinct if text in translator.memo}
    unseen = [text for text in distinct if text not in cached]
    if store is not None and unseen:
        cached.update(store.cached_translations(translator.model_key, unseen))
    misses = [text for text in distinct if text not in cached]
    fresh = dict(zip(misses, translator.translate(misses))) if misses else {}
    if store is not None and fresh:
        store.cache_translations(translator.model_key, fresh.items())
    translator.memo.remember(fresh.items())
    log.debug("%d texts: %d distinct, %d cached, %d translated", len(texts), len(distinct),
              len(distinct) - len(misses), len(misses))
    return [(cached[text], True) if text in cached else (fresh[text], False) for text in texts]


def translate_iterable(texts: Iterable[str], translator: Translator, store: Store | None = None,
                       chunk_size: int = STREAM_CHUNK) -> Iterator[tuple[str, bool]]:
    """translate_cached over a stream, once `chunk_size` texts new to this run have come in.

    Chunks are counted in distinct unseen texts, not in texts: on a corpus of reprints most texts are
    repeats that cost nothing, and counting them would cut the new ones into small, slow batches.
    At most STREAM_BUFFER_CHUNKS x `chunk_size` texts are held, so memory stays flat for any corpus.
    """
    chunk: list[str] = []
    unseen: set[str] = set()
    for text in texts:
        chunk.append(text)
        if text not in translator.memo:
            unseen.add(text)
        if len(unseen) >= chunk_size or len(chunk) >= STREAM_BUFFER_CHUNKS * chunk_size:
            yield from translate_cached(chunk, translator, store)
            chunk, unseen = [], set()
    if chunk:
        yield from translate_cached(chunk, translator, store)


def load_translations(path: str | Path) -> tuple[dict[str, str], list[ItemError]]:
    """Precomputed English from JSONL lines {"id": ..., "text": ...}; bad lines come back as ItemErrors."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read translations file {path}: {exc.strerror or exc}") from exc
    found: dict[str, str] = {}
    errors: list[ItemError] = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item_id, text = _parse_translation_line(line)
            if item_id in found:
                raise DuplicateId(f"id {item_id!r} already given on an earlier line; the first one is kept")
        except (MalformedRecord, DuplicateId) as exc:
            errors.append(ItemError(f"{path.name}:{lineno}", "translations", exc.code,
                                    f"{path.name} line {lineno}: {exc}", origin=f"{path}:{lineno}"))
            continue
        found[item_id] = text
    return found, errors


def _parse_translation_line(line: bytes) -> tuple[str, str]:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedRecord(f"not valid UTF-8 (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise MalformedRecord(f"expected a JSON object with \"id\" and \"text\", got {type(record).__name__}")
    item_id, text = record.get("id"), record.get("text")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip():
        raise MalformedRecord("missing or empty \"id\" (a string is expected)")
    if not isinstance(text, str):
        raise MalformedRecord(f"\"text\" of id {item_id!r} is missing or not a string")
    return item_id, text


# -- batching ---------------------------------------------------------------------------------------


def _plan_batches(order: Sequence[int], lengths: dict[int, int], budget: int, beams: int = 1) -> list[list[int]]:
    """Consecutive runs of `order` whose padded size (longest row x rows x beams) stays within `budget`.

    Beam search decodes `beams` rows per sentence, each with its copy of the source's cross-attention
    cache, so a batch of n sentences costs what n x beams greedy rows cost. A row longer than the budget
    still gets a batch of its own.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        candidate_longest = max(longest, lengths[i])
        if current and candidate_longest * (len(current) + 1) * beams > budget:
            batches.append(current)
            current, candidate_longest = [], lengths[i]
        current.append(i)
        longest = candidate_longest
    if current:
        batches.append(current)
    return batches


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# -- loading ----------------------------------------------------------------------------------------


def _check_options(beams: int, batch_tokens: int, engine: str, dtype: str | None, quantize: str | None,
                   compute_type: str | None, shortlist: int | None) -> None:
    from .engine import QUANTIZE_CHOICES

    if beams < 1 or batch_tokens < 1:
        raise UsageError(f"beams and batch_tokens must be at least 1 (got beams={beams}, batch_tokens={batch_tokens})")
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if dtype is not None and dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    if quantize is not None and quantize not in QUANTIZE_CHOICES:
        raise UsageError(f"unknown quantization {quantize!r}: use one of {', '.join(QUANTIZE_CHOICES)}")
    if shortlist is not None and shortlist < 1:
        raise UsageError(f"shortlist must be a positive number of target tokens (got {shortlist})")
    torch_only = {"dtype": dtype, "quantize": quantize, "shortlist": shortlist}
    if engine == "ct2" and any(value is not None for value in torch_only.values()):
        names = ", ".join(name for name, value in torch_only.items() if value is not None)
        raise UsageError(f"{names} apply to the torch engine; with --engine ct2 use compute_type (e.g. int8)")
    if engine == "torch" and compute_type is not None:
        raise UsageError("compute_type applies to --engine ct2; the torch engine takes dtype and quantize")


def _torch_dtype(torch, dtype: str | None, device: str):
    if dtype is None:
        return torch.float16 if device.startswith("cuda") else torch.float32
    if device == "cpu" and dtype != "float32":
        raise UsageError(f"dtype {dtype} is for CUDA; on the CPU use float32 (or quantize='int8')")
    return getattr(torch, dtype)


def _torch_engine(model: Any, quantize: str | None = None, shortlist: Any = None):
    from .engine import TorchEngine

    return TorchEngine(model, quantize=quantize, shortlist=shortlist)


def _shortlist(model: Any, tokenizer: Any, size: int, texts: Iterable[str] | None):
    """Frequent target tokens, counted over `texts` (English) or read from target.spm's piece scores."""
    from .engine import Shortlist

    vocab = tokenizer.get_vocab()
    digest = hashlib.sha256()
    if texts is not None:
        counts: dict[int, int] = {}
        for text in texts:
            digest.update(text.encode("utf-8") + b"\n")
            for token in tokenizer(text_target=text)["input_ids"]:
                counts[token] = counts.get(token, 0) + 1
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
    else:
        target = tokenizer.spm_target
        digest.update(target.serialized_model_proto())
        pieces = sorted(range(target.get_piece_size()), key=lambda i: (-target.get_score(i), i))
        ranked = [vocab[p] for p in (target.id_to_piece(i) for i in pieces) if p in vocab]
    banned = _single_banned_tokens(model)
    return Shortlist(ranked, size, int(model.config.vocab_size), banned=banned, digest=digest.hexdigest()[:12])


def _single_banned_tokens(model: Any) -> tuple[int, ...]:
    bad = model.generation_config.bad_words_ids or []
    return tuple(int(seq[0]) for seq in bad if len(seq) == 1)


def _progress_bar(total: int, enabled: bool | None):
    """tqdm on stderr counting sentences (its rate reads sentences/s); nothing for short or piped runs."""
    import sys

    if enabled is None:
        enabled = total >= PROGRESS_MIN_SENTENCES and sys.stderr.isatty()
    if not enabled:
        return nullcontext(_NoBar())
    from tqdm import tqdm

    return tqdm(total=total, unit="sent", desc="translating", file=sys.stderr, smoothing=0.1)


class _NoBar:
    def update(self, _: int) -> None:
        pass


def _import_torch(model: str):
    try:
        import torch
        import transformers  # noqa: F401  (fail here, with the hint, rather than mid-load)
    except ImportError as exc:
        raise ModelUnavailable(
            f"cannot load model {model!r}: {exc}. Install the dependencies: pip install torch transformers sentencepiece"
        ) from exc
    return torch


def _pick_device(torch, device: str | None) -> str:
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise UsageError(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {device!r} was asked for but torch sees no CUDA GPU; use --device cpu")
    return device


def _as_folder(model: str) -> Path | None:
    """The model's folder when `model` names one; None for a hub id. Raises for a missing folder."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise ModelUnavailable(f"cannot load model {model!r}: it is a file, not a folder holding {MODEL_FOLDER_FILES}")
    looks_like_path = model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1
    if looks_like_path:
        raise ModelUnavailable(
            f"cannot load model {model!r}: there is no such folder. Pass a folder holding {MODEL_FOLDER_FILES}, "
            f"or a Hugging Face hub id such as {DEFAULT_MODEL}, or supply English with --translations FILE."
        )
    return None


def _load_folder(model: str, folder: Path, dtype) -> tuple[Any, Any]:
    missing = [name for name in _REQUIRED_FILES if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        missing.append("model weights")
    if missing:
        raise ModelUnavailable(
            f"cannot load model {model!r}: the folder lacks {', '.join(missing)}. "
            f"A model folder holds {MODEL_FOLDER_FILES} (save_pretrained writes them)."
        )
    try:
        return _from_pretrained(str(folder), dtype, local_files_only=True)
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelUnavailable(f"cannot load model {model!r} from its folder: {_first_line(exc)}") from exc


def _load_hub(model: str, dtype) -> tuple[Any, Any, str]:
    """Model, tokenizer and snapshot commit for a hub id, from the local cache when offline."""
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        commit = _cached_commit(model)
    except HFValidationError as exc:
        raise ModelUnavailable(
            f"cannot load model {model!r}: it is neither an existing folder nor a valid Hugging Face hub id "
            f"(such as {DEFAULT_MODEL})."
        ) from exc
    offline = _offline_mode()
    if commit is None and offline:
        raise ModelUnavailable(_not_cached_message(model, "offline mode is on (HF_HUB_OFFLINE)"))
    try:
        marian, tokenizer = _from_pretrained(model, dtype, local_files_only=offline)
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        if isinstance(exc.__cause__, RepositoryNotFoundError):
            raise ModelUnavailable(
                f"cannot load model {model!r}: the Hugging Face hub has no public model with this id. "
                f"Check the spelling (the default is {DEFAULT_MODEL}), or pass a local folder with --model."
            ) from exc
        if commit is None or isinstance(exc.__cause__, LocalEntryNotFoundError):
            reason = "offline mode is on (HF_HUB_OFFLINE)" if offline else "the hub cannot be reached"
            raise ModelUnavailable(_not_cached_message(model, reason)) from exc
        raise ModelUnavailable(f"cannot load model {model!r} from the Hugging Face cache: {_first_line(exc)}") from exc
    return marian, tokenizer, _cached_commit(model) or commit or "unknown-revision"


def _not_cached_message(model: str, reason: str) -> str:
    return (
        f"cannot load model {model!r}: it is not in the local Hugging Face cache and {reason}. "
        "Download it once with network access, or pass a local folder with --model /path/to/opus-mt-fr-en "
        f"({MODEL_FOLDER_FILES}), or supply English with --translations FILE."
    )


def _from_pretrained(source: str, dtype, *, local_files_only: bool) -> tuple[Any, Any]:
    # Model first: its errors are clear, while MarianTokenizer fails with a TypeError on missing files.
    from transformers import MarianMTModel, MarianTokenizer

    marian = MarianMTModel.from_pretrained(source, dtype=dtype, local_files_only=local_files_only)
    try:
        tokenizer = MarianTokenizer.from_pretrained(source, local_files_only=local_files_only)
    except TypeError as exc:  # a tokenizer file resolved to None
        raise OSError("its tokenizer files (source.spm, target.spm, vocab.json) are missing") from exc
    return marian, tokenizer


def _cached_commit(repo_id: str) -> str | None:
    """Commit of the cached snapshot of `repo_id` (its main revision), or None when not cached."""
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(repo_id, "config.json")
    return Path(path).parent.name if isinstance(path, str) else None


def _offline_mode() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once at import; read the environment again so a flag set
    # later (by a caller, or a test) is honoured too.
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(flag.strip().upper() in _TRUE_FLAGS for flag in flags)


def _folder_fingerprint(folder: Path) -> str:
    """Hash of what decides the translations: small config files by content, big files by name/size/mtime."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not path.name.endswith(_IDENTITY_SUFFIXES):
            continue
        stat = path.stat()
        digest.update(path.name.encode() + b"\0")
        if stat.st_size <= _HASHED_CONTENT_LIMIT:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
