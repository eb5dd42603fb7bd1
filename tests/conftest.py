"""Shared fixtures: the ../shared folder, Marian tokenizer files, a tiny random-weight Marian, a store."""

from __future__ import annotations

import io
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from make_tiny_marian import make_tiny_marian as build_tiny_marian  # noqa: E402  (tools/ is scripts, not a package)

SHARED_TOKENIZER = Path("data") / "tokenizers" / "opus-mt-tc-big-fr-en"
TINY_VOCAB_SIZE = 300  # enough pieces for the inline corpus; a 53k vocabulary is not needed offline

# Inline corpus for the fallback tokenizer: every subject x verb x object gives a few hundred sentences.
_FR_SUBJECTS = ["Le président", "La ministre", "Le gouvernement", "Les syndicats", "La police", "Un porte-parole",
                "Les députés", "La mairie de Paris"]
_FR_VERBS = ["a annoncé", "a rejeté", "prépare", "critique", "défend", "a présenté"]
_FR_OBJECTS = ["une nouvelle réforme des retraites.", "le budget de l'État pour l'année prochaine.",
               "un accord avec l'Union européenne.", "la hausse des prix de l'énergie.",
               "un plan d'aide aux entreprises.", "l'enquête sur l'incendie de jeudi."]
_EN_SUBJECTS = ["The president", "The minister", "The government", "The unions", "The police", "A spokesman",
                "The lawmakers", "Paris city hall"]
_EN_VERBS = ["announced", "rejected", "is preparing", "criticised", "defends", "presented"]
_EN_OBJECTS = ["a new pension reform.", "the state budget for next year.", "an agreement with the European Union.",
               "the rise in energy prices.", "an aid plan for companies.", "the investigation into Thursday's fire."]


def tiny_corpus() -> list[str]:
    french = [" ".join(words) for words in itertools.product(_FR_SUBJECTS, _FR_VERBS, _FR_OBJECTS)]
    english = [" ".join(words) for words in itertools.product(_EN_SUBJECTS, _EN_VERBS, _EN_OBJECTS)]
    return french + english


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder next to the repository (absent in a user's fresh clone)."""
    return Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def trained_tokenizer_dir(tmp_path_factory) -> Path:
    """Marian tokenizer files from a tiny SentencePiece model trained here, so nothing needs ../shared."""
    import sentencepiece as spm

    folder = tmp_path_factory.mktemp("tiny-tokenizer")
    model = io.BytesIO()
    # Marian's layout: </s> = 0, <unk> = 1, no <s>; <pad> is the last id, added in vocab.json.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(tiny_corpus()), model_writer=model, vocab_size=TINY_VOCAB_SIZE,
        eos_id=0, unk_id=1, bos_id=-1, pad_id=-1, character_coverage=1.0, hard_vocab_limit=False,
        minloglevel=2,  # quiet: no training log in the test output
    )
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
    vocab["<pad>"] = len(vocab)
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(model.getvalue())
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "source_lang": "fr", "target_lang": "en", "unk_token": "<unk>", "eos_token": "</s>", "pad_token": "<pad>",
        "model_max_length": 512, "separate_vocabs": False, "tokenizer_class": "MarianTokenizer",
    }), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tokenizer_dir(shared_dir, request) -> Path:
    """The real opus-mt-tc-big-fr-en tokenizer files, or a tiny trained stand-in when ../shared is absent."""
    real = shared_dir / SHARED_TOKENIZER
    if (real / "source.spm").is_file():
        return real
    return request.getfixturevalue("trained_tokenizer_dir")


@pytest.fixture(scope="session")
def make_tiny_marian(tmp_path_factory) -> Callable[..., Path]:
    """Factory: save a random-weight MarianMTModel (plus tokenizer files) to a new folder, per seed."""

    def make(tokenizer_folder: Path, seed: int = 0) -> Path:
        import torch

        # A 16-wide model is all per-op overhead: extra threads only contend (5-30x slower on 2 cores).
        torch.set_num_threads(1)
        folder = tmp_path_factory.mktemp(f"tiny-marian-{seed}")
        # init_std 0.5: peaked logits, so greedy choices sit far from ties and batched and single runs agree.
        return build_tiny_marian(tokenizer_folder, folder, seed=seed, d_model=16, layers=1, init_std=0.5)

    return make


@pytest.fixture(scope="session")
def tiny_marian_dir(make_tiny_marian, tokenizer_dir) -> Path:
    """A tiny random-weight Marian folder that `Translator.load(str(folder))` accepts."""
    return make_tiny_marian(tokenizer_dir, seed=0)


@pytest.fixture(scope="session")
def tiny_translator(tiny_marian_dir):
    """One CPU Translator over `tiny_marian_dir`, shared by the session: monkeypatch it, don't mutate it."""
    from provenance.translate import Translator

    return Translator.load(str(tiny_marian_dir), device="cpu")


@pytest.fixture
def store():
    from provenance.store import Store

    store = Store(":memory:")
    yield store
    store.close()
