"""The CTranslate2 engine (optional: `pip install provenance[ct2]`).

The Marian folder or hub model is converted once with CTranslate2's TransformersConverter and cached on
disk under a folder named by the model's identity (weights fingerprint or hub commit), so a changed model
is converted again and an unchanged one never is. Weights are stored in float32; CTranslate2 converts them
to the compute type (int8, int16, float32 on CPU; float16, int8_float16 on CUDA) when it loads them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .engine import DecodeRequest
from .errors import ModelUnavailable, UsageError

log = logging.getLogger(__name__)

CPU_COMPUTE_TYPES = ("int8", "int16", "float32", "int8_float32")
CUDA_COMPUTE_TYPES = ("float16", "int8_float16", "bfloat16", "int8_bfloat16", "float32", "int8")
DEFAULT_COMPUTE_TYPE = {"cpu": "int8", "cuda": "float16"}
CACHE_ENV = "PROVENANCE_CACHE"  # overrides ~/.cache/provenance (or $XDG_CACHE_HOME/provenance)


class CTranslate2Engine:
    """Greedy/beam decoding with a ctranslate2.Translator; same `generate(DecodeRequest)` as TorchEngine."""

    def __init__(self, translator: Any, tokenizer: Any, *, compute_type: str, pad: int, eos: int):
        self.translator = translator
        self.tokenizer = tokenizer
        self.compute_type = compute_type
        self.pad = pad
        self.eos = eos

    @classmethod
    def load(cls, model: Any, tokenizer: Any, *, source: str | Path, identity: str, device: str,
             compute_type: str | None = None, threads: int | None = None) -> "CTranslate2Engine":
        """Convert `source` (a Marian folder or hub id) unless cached, then load it for `device`."""
        ctranslate2 = _import_ctranslate2()
        kind = "cuda" if device.startswith("cuda") else "cpu"
        compute_type = compute_type or DEFAULT_COMPUTE_TYPE[kind]
        allowed = CUDA_COMPUTE_TYPES if kind == "cuda" else CPU_COMPUTE_TYPES
        if compute_type not in allowed:
            raise UsageError(f"compute type {compute_type!r} is not available on {kind}: use one of {', '.join(allowed)}")
        folder = converted_model(source, identity)
        index = int(device.split(":")[1]) if ":" in device else 0
        options = {"intra_threads": threads or _torch_threads()} if kind == "cpu" else {"device_index": index}
        translator = ctranslate2.Translator(str(folder), device=kind, compute_type=compute_type, **options)
        return cls(translator, tokenizer, compute_type=compute_type, pad=int(model.config.pad_token_id),
                   eos=int(tokenizer.eos_token_id))

    def generate(self, request: DecodeRequest) -> list[list[int]]:
        """New token ids per row, EOS removed; each row capped at its own limit."""
        tokens = [self.tokenizer.convert_ids_to_tokens([i for i in row if i != self.pad])
                  for row in request.input_ids.tolist()]
        # CTranslate2 caps the whole batch; a greedy row cut at its own limit is what a per-row cap
        # gives (greedy prefixes do not depend on the cap). Beam rows are cut the same way, approximately.
        longest = max(request.limits) - 1  # the limit counts the EOS, CTranslate2's does not
        results = self.translator.translate_batch(
            tokens, beam_size=request.beams, max_decoding_length=longest,
            min_decoding_length=min(request.min_new_tokens, longest), max_batch_size=len(tokens),
            return_scores=False,
        )
        ids = self.tokenizer.convert_tokens_to_ids
        return [ids(result.hypotheses[0])[: limit - 1] for result, limit in zip(results, request.limits, strict=True)]


def converted_model(source: str | Path, identity: str) -> Path:
    """The CTranslate2 folder for this model, converted on first use and cached by identity."""
    ctranslate2 = _import_ctranslate2()
    key = hashlib.sha256(f"{identity}|ctranslate2-{ctranslate2.__version__}".encode()).hexdigest()[:20]
    folder = cache_root() / "ct2" / key
    if (folder / "model.bin").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    log.info("converting %s for CTranslate2 into %s (once)", source, folder)
    try:
        converter = ctranslate2.converters.TransformersConverter(str(source))
        converter.convert(str(staging), force=True)
        (staging / "SOURCE").write_text(f"{source}\n{identity}\n", encoding="utf-8")
        os.replace(staging, folder)  # atomic: a concurrent run sees a whole folder or none
    except OSError as exc:
        if (folder / "model.bin").is_file():  # another process won the race
            return folder
        raise ModelUnavailable(f"cannot convert {source} for CTranslate2 into {folder}: {exc}") from exc
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ModelUnavailable(f"cannot convert {source} for CTranslate2: {str(exc).splitlines()[0]}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "provenance"


def _import_ctranslate2():
    try:
        import ctranslate2
    except ImportError as exc:
        raise ModelUnavailable(
            "the ct2 engine needs CTranslate2: pip install 'provenance[ct2]' (or pip install ctranslate2), "
            "or use --engine torch"
        ) from exc
    return ctranslate2


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()
