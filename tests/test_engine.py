"""Decoding engines: the torch loop against `generate` token for token, options, CTranslate2, OOM retries."""

from __future__ import annotations

import pytest
import torch

from provenance.engine import DecodeRequest, Shortlist, TorchEngine
from provenance.errors import UsageError
from provenance.translate import Translator, translate_cached, translate_iterable

FRENCH = [
    "Bonjour.",
    "Le président de la République a annoncé mardi une réforme des retraites, très contestée par les syndicats.",
    "Il pleut.",
    "La ministre a présenté le budget de l'État.",
    "Les députés ont rejeté l'accord avec l'Union européenne après un long débat nocturne.",
    "Un porte-parole a démenti.",
    "La police défend le plan d'aide aux entreprises.",
    "Le gouvernement prépare une nouvelle réforme.",
    "Les syndicats critiquent la hausse des prix de l'énergie.",
    "La mairie de Paris a rejeté l'enquête sur l'incendie de jeudi.",
]
MAX_NEW_TOKENS = 24


@pytest.fixture(scope="module")
def varied_model(tokenizer_dir):
    """A small random Marian whose greedy and beam outputs stop at varied lengths, pad banned like opus-mt.

    The EOS bias is set from the model's own logits so that EOS wins at some steps and not others:
    early stops, late stops and capped rows all occur in one batch.
    """
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    tokenizer = MarianTokenizer.from_pretrained(str(tokenizer_dir))
    config = MarianConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, forced_eos_token_id=tokenizer.eos_token_id, init_std=1.0,
    )
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = MarianMTModel(config).eval()
    model.generation_config.bad_words_ids = [[tokenizer.pad_token_id]]
    batch = tokenizer(FRENCH, return_tensors="pt", padding=True)
    with torch.inference_mode():
        start = torch.full((len(FRENCH), 6), tokenizer.pad_token_id)
        logits = model(**batch, decoder_input_ids=start).logits
        gap = (logits.max(-1).values - logits[..., tokenizer.eos_token_id]).flatten()
        model.final_logits_bias[0, tokenizer.eos_token_id] += gap.quantile(0.3)
    return model, tokenizer


def _generate_reference(model, tokenizer, beams: int) -> list[list[int]]:
    batch = tokenizer(FRENCH, return_tensors="pt", padding=True)
    with torch.inference_mode():
        output = model.generate(**batch, num_beams=beams, do_sample=False, max_new_tokens=MAX_NEW_TOKENS)
    return [_until_eos(row[1:], tokenizer) for row in output.tolist()]


def _until_eos(row: list[int], tokenizer) -> list[int]:
    row = [t for t in row if t != tokenizer.pad_token_id]
    return row[: row.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in row else row


def _engine_output(engine: TorchEngine, tokenizer, beams: int, texts=FRENCH) -> list[list[int]]:
    batch = tokenizer(list(texts), return_tensors="pt", padding=True)
    request = DecodeRequest(batch["input_ids"], batch["attention_mask"], (MAX_NEW_TOKENS,) * len(texts), beams)
    return engine.generate(request)


@pytest.mark.parametrize("beams", [1, 2, 3, 4])
def test_engine_equals_generate_token_for_token(varied_model, beams):
    model, tokenizer = varied_model
    expected = _generate_reference(model, tokenizer, beams)

    assert _engine_output(TorchEngine(model), tokenizer, beams) == expected
    lengths = {len(row) for row in expected}
    assert len(lengths) >= 2 and min(lengths) < MAX_NEW_TOKENS - 1  # rows stop at varied lengths: the check has teeth


def test_engine_rows_do_not_depend_on_batch_neighbours(varied_model):
    model, tokenizer = varied_model
    engine = TorchEngine(model)
    together = _engine_output(engine, tokenizer, 1)
    assert [_engine_output(engine, tokenizer, 1, [text])[0] for text in FRENCH[:4]] == together[:4]


def test_fixed_output_length_forces_every_row(tiny_translator):
    translator = Translator(tiny_translator._model, tiny_translator._tokenizer, model_id="tiny", model_key="k",
                            device="cpu")
    translator.fixed_output_tokens = 12
    rows = translator._generate_ids(FRENCH[:4])
    assert [len(row) for row in rows] == [11] * 4  # 11 tokens then the forced EOS, as generate gives


def test_full_vocabulary_shortlist_changes_nothing(varied_model):
    model, tokenizer = varied_model
    everything = Shortlist(range(model.config.vocab_size), model.config.vocab_size, model.config.vocab_size,
                           banned=[tokenizer.pad_token_id])
    shortlisted = TorchEngine(model, shortlist=everything)
    assert _engine_output(shortlisted, tokenizer, 1) == _generate_reference(model, tokenizer, 1)


@pytest.mark.parametrize("beams", [1, 2])
def test_shortlist_emits_only_candidates(tiny_translator, beams):
    model, tokenizer = tiny_translator._model, tiny_translator._tokenizer
    shortlist = Shortlist(range(50), 50, model.config.vocab_size, banned=[tokenizer.pad_token_id])
    engine = TorchEngine(model, shortlist=shortlist)
    batch = tokenizer(FRENCH, return_tensors="pt", padding=True)
    allowed = set(shortlist.candidates(batch["input_ids"], tokenizer.eos_token_id).tolist())
    rows = _engine_output(engine, tokenizer, beams)
    assert all(token in allowed and token != tokenizer.pad_token_id for row in rows for token in row)
    assert any(rows)


def test_int8_engine_runs_and_stays_close(varied_model):
    model, tokenizer = varied_model
    rows = _engine_output(TorchEngine(model, quantize="int8"), tokenizer, 1)
    assert len(rows) == len(FRENCH)
    assert all(len(row) < MAX_NEW_TOKENS for row in rows)


# -- Translator options -----------------------------------------------------------------------------


def test_options_enter_the_model_key(tiny_marian_dir, tiny_translator):
    fast = Translator.load(str(tiny_marian_dir), device="cpu", quantize="int8", shortlist=100)
    key = fast.model_key
    assert key.startswith(tiny_translator.model_key + ";") and "quantize=int8" in key and "shortlist=100@" in key
    assert all(fast.translate(FRENCH[:3]))
    corpus = Translator.load(str(tiny_marian_dir), device="cpu", shortlist=100, shortlist_texts=["The president."])
    assert corpus.model_key != key.replace(";quantize=int8", "")  # the frequency source is part of the key


@pytest.mark.parametrize("options", [
    {"engine": "marian"}, {"quantize": "int4"}, {"shortlist": 0}, {"dtype": "float16"},
    {"engine": "ct2", "quantize": "int8"}, {"compute_type": "int8"}, {"dtype": "half"},
])
def test_bad_engine_options_are_usage_errors(tiny_marian_dir, options):
    with pytest.raises(UsageError):
        Translator.load(str(tiny_marian_dir), device="cpu", **options)


def test_run_memo_translates_a_sentence_once_per_run(tiny_translator, monkeypatch):
    translator = Translator(tiny_translator._model, tiny_translator._tokenizer, model_id="tiny", model_key="k",
                            device="cpu")
    sent: list[str] = []
    real = translator._generate

    def spy(texts):
        sent.extend(texts)
        return real(texts)

    monkeypatch.setattr(translator, "_generate", spy)
    first = translate_cached(["Il pleut.", "Bonjour."], translator, None)
    second = translate_cached(["Bonjour.", "Un porte-parole a démenti."], translator, None)

    assert sorted(sent) == ["Bonjour.", "Il pleut.", "Un porte-parole a démenti."]
    assert second[0] == (first[1][0], True) and second[1][1] is False


def _counting_translator(tiny_translator, monkeypatch) -> tuple[Translator, list[int]]:
    """A fresh Translator over the tiny model whose `translate` records how many texts each call got."""
    translator = Translator(tiny_translator._model, tiny_translator._tokenizer, model_id="tiny", model_key="k",
                            device="cpu")
    calls: list[int] = []
    real = translator.translate

    def spy(texts):
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(translator, "translate", spy)
    return translator, calls


def test_translate_iterable_streams_in_chunks(tiny_translator, monkeypatch):
    translator, calls = _counting_translator(tiny_translator, monkeypatch)
    stream = translate_iterable(iter(FRENCH[:5]), translator, None, chunk_size=2)
    assert [english for english, _ in stream] == tiny_translator.translate(FRENCH[:5])
    assert calls == [2, 2, 1]


def test_translate_iterable_chunks_by_new_texts_not_repeats(tiny_translator, monkeypatch):
    translator, calls = _counting_translator(tiny_translator, monkeypatch)
    reprints = FRENCH[:3] * 4 + FRENCH[3:6] * 4  # 24 texts, 6 distinct
    stream = list(translate_iterable(iter(reprints), translator, None, chunk_size=3))
    assert calls == [3, 3]  # repeats never cut a chunk: the model sees full batches of new texts
    assert [english for english, _ in stream] == tiny_translator.translate(reprints)
    assert sum(not cached for _, cached in stream) == 6


def test_out_of_memory_in_the_engine_halves_and_loses_nothing(tiny_translator, monkeypatch):
    translator = Translator(tiny_translator._model, tiny_translator._tokenizer, model_id="tiny", model_key="k",
                            device="cpu", batch_tokens=10_000)
    expected = tiny_translator.translate(FRENCH)
    real = translator._engine.generate
    seen: list[int] = []

    def flaky(request):
        seen.append(request.input_ids.shape[0])
        if request.input_ids.shape[0] > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return real(request)

    monkeypatch.setattr(translator._engine, "generate", flaky)
    assert translator.translate(FRENCH) == expected
    decoded = [n for n in seen if n <= 3]
    assert seen[0] == len(FRENCH) and sum(decoded) == len(FRENCH)  # each sentence decoded exactly once


# -- CTranslate2 ------------------------------------------------------------------------------------


def test_ct2_float32_equals_torch_greedy(tiny_marian_dir, tiny_translator, tmp_path, monkeypatch):
    pytest.importorskip("ctranslate2")
    monkeypatch.setenv("PROVENANCE_CACHE", str(tmp_path))
    ct2 = Translator.load(str(tiny_marian_dir), device="cpu", engine="ct2", compute_type="float32")

    texts = FRENCH + [""]
    assert ct2._generate_ids(FRENCH) == tiny_translator._generate_ids(FRENCH)
    assert ct2.translate(texts) == tiny_translator.translate(texts)
    assert ct2.model_key.endswith(";beams=1;engine=ct2:float32")
    converted = list((tmp_path / "ct2").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.bin").is_file()

    again = Translator.load(str(tiny_marian_dir), device="cpu", engine="ct2", compute_type="int8")
    assert list((tmp_path / "ct2").iterdir()) == converted  # converted once, cached by model identity
    assert again.model_key != ct2.model_key and len(again.translate(FRENCH[:2])) == 2
