"""Typed errors with stable codes, and the per-item error record the report carries."""

from __future__ import annotations

from dataclasses import dataclass


class ProvenanceError(Exception):
    """Base class; `code` is stable and appears in reports."""

    code = "error"


class EmptyInput(ProvenanceError):
    code = "empty"


class BinaryInput(ProvenanceError):
    code = "binary"


class NotFrench(ProvenanceError):
    code = "wrong_language"


class TooLarge(ProvenanceError):
    code = "too_large"


class BadEncoding(ProvenanceError):
    code = "bad_encoding"


class MalformedRecord(ProvenanceError):
    code = "malformed_record"


class DuplicateId(ProvenanceError):
    code = "duplicate_id"


class ModelUnavailable(ProvenanceError):
    """The translation model cannot be loaded (offline, wrong id, missing files)."""

    code = "model_unavailable"


class UsageError(ProvenanceError):
    """Bad arguments or settings: a run-level error, reported as one line by the CLI."""

    code = "usage"


@dataclass(frozen=True, slots=True)
class ItemError:
    """One input item that could not be processed; the batch goes on without it."""

    item_id: str
    stage: str  # "load", "segment", "translate", "score", ...
    code: str
    message: str
    origin: str = ""  # file (and line) the item came from

    @classmethod
    def from_exception(cls, item_id: str, stage: str, exc: BaseException, origin: str = "") -> "ItemError":
        code = exc.code if isinstance(exc, ProvenanceError) else "internal"
        message = str(exc) or type(exc).__name__
        return cls(item_id=item_id, stage=stage, code=code, message=message, origin=origin)
