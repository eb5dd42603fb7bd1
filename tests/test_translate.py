"""Translator: batching against one-by-one decoding, length checks, cache, OOM backoff, load errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from provenance.errors import ModelUnavailable, TooLarge, UsageError
from provenance.translate import Translation, Translator, _plan_batches, load_translations, translate_cached

# Very different lengths, so that a small budget cuts them into several batches of padded rows.
FRENCH = [
    "Bonjour.",
    "Le président de la République a annoncé mardi une réforme des retraites, très contestée par les syndicats "
    "qui appellent à manifester partout en France dès la semaine prochaine.",
    "Il pleut.",
    "La ministre a présenté le budget de l'État.",
    "Les députés ont rejeté l'accord avec l'Union européenne après un long débat nocturne.",
    "Un porte-parole a démenti.",
]
ENGLISH_REFERENCES = [
    "Hello.",
    "The president announced a pension reform on Tuesday, strongly contested by the unions.",
    "It is raining.",
    "The minister presented the state budget.",
    "The lawmakers rejected the agreement with the European Union after a long night debate.",
    "A spokesman denied it.",
]


@pytest.fixture
def fresh_translator(tiny_translator) -> Translator:
    """A Translator of its own (budget and beams free to change) over the session's model and tokenizer."""
    return _rewrap(tiny_translator)


def _rewrap(translator: Translator, **changes) -> Translator:
    options = {"model_id": translator.model_id, "model_key": translator.model_key, "device": translator.device,
               "beams": translator.beams, "batch_tokens": translator.batch_tokens, **changes}
    return Translator(translator._model, translator._tokenizer, **options)


def _record_batches(monkeypatch, translator: Translator) -> list[list[str]]:
    """Spy on the generate step: the list fills with each batch of texts the model receives."""
    batches: list[list[str]] = []
    real_generate = translator._generate

    def spy(texts):
        batches.append(list(texts))
        return real_generate(texts)

    monkeypatch.setattr(translator, "_generate", spy)
    return batches


def _forbid_generate(monkeypatch, translator: Translator) -> None:
    def fail(texts):
        raise AssertionError(f"the model was called on {texts!r}")

    monkeypatch.setattr(translator, "_generate", fail)


def _translate_alone(translator: Translator, text: str, beams: int) -> str:
    """Plain `model.generate` on one sentence: no padding, HF's own max_new_tokens + forced EOS."""
    model, tokenizer = translator._model, translator._tokenizer
    inputs = tokenizer([text], return_tensors="pt")
    limit = min(translator.max_input_tokens, 2 * inputs["input_ids"].shape[1] + 10)
    with torch.inference_mode():
        output = model.generate(**inputs, num_beams=beams, do_sample=False, max_new_tokens=limit)
    return tokenizer.decode(output[0], skip_special_tokens=True).strip()


# -- batching ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("beams", [1, 2])
def test_batched_translation_equals_one_by_one(tiny_translator, monkeypatch, beams):
    translator = _rewrap(tiny_translator, beams=beams, batch_tokens=60)
    batches = _record_batches(monkeypatch, translator)
    texts = FRENCH[:3] + [""] + FRENCH[3:]

    translated = translator.translate(texts)

    assert len(batches) >= 3 and max(len(b) for b in batches) >= 2  # several batches, some padded
    assert sorted(t for b in batches for t in b) == sorted(FRENCH)  # blanks never reach the model
    expected = [_translate_alone(translator, text, beams) if text else "" for text in texts]
    assert translated == expected
    assert all(translated[i] for i in range(len(texts)) if texts[i])


@pytest.mark.parametrize("budget, beams, expected", [
    (40, 1, [[0, 1], [2, 3], [4]]),  # 20-token rows: two per 40-token batch
    (40, 2, [[0], [1], [2], [3], [4]]),  # beam 2: each sentence decodes two rows
    (160, 4, [[0, 1], [2, 3], [4]]),  # the budget counts rows x beams
    (10, 4, [[0], [1], [2], [3], [4]]),  # a sentence over the budget still gets its own batch
])
def test_batch_plan_divides_the_budget_by_the_beams(budget, beams, expected):
    lengths = dict.fromkeys(range(5), 20)
    assert _plan_batches(range(5), lengths, budget, beams) == expected


def _summed_log_probs(translator: Translator, sources: list[str], references: list[str]) -> torch.Tensor:
    """log P(reference | source) per pair, teacher-forced, through the translator's padded encoding."""
    tokenizer = translator._tokenizer
    inputs = translator._encode(sources)
    labels = tokenizer(text_target=references, return_tensors="pt", padding=True)["input_ids"]
    labels = labels.masked_fill(labels == tokenizer.pad_token_id, -100)
    with torch.inference_mode():
        logits = translator._model(**inputs, labels=labels).logits
    log_probs = logits.log_softmax(dim=-1)
    picked = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * (labels != -100)).sum(dim=1)


def test_padded_batch_scores_like_single_sentences(tiny_translator):
    # Random weights make greedy output degenerate; teacher-forced log-probabilities of real English
    # still show whether padding and attention masks leak between rows of a batch.
    batched = _summed_log_probs(tiny_translator, FRENCH, ENGLISH_REFERENCES)
    alone = torch.cat([_summed_log_probs(tiny_translator, [f], [e]) for f, e in zip(FRENCH, ENGLISH_REFERENCES)])
    assert torch.allclose(batched, alone, rtol=1e-4, atol=1e-3)
    assert len(set(alone.tolist())) == len(FRENCH)  # the check is not vacuous


def test_each_output_is_capped_by_its_own_input_length(fresh_translator, monkeypatch):
    short, long = "Bonjour.", FRENCH[1]
    generated: list[list[list[int]]] = []
    real_generate_ids = fresh_translator._generate_ids

    def spy(texts):
        generated.append(real_generate_ids(texts))
        return generated[-1]

    monkeypatch.setattr(fresh_translator, "_generate_ids", spy)
    together = fresh_translator.translate([long, short])

    for row, text in zip(generated[0], [long, short]):  # longest first; EOS already removed
        cap = 2 * fresh_translator.count_tokens(text) + 10
        assert len(row) + 1 <= cap
    assert len(generated[0][1]) + 1 == 2 * fresh_translator.count_tokens(short) + 10  # random weights: the cap stopped it
    assert together[1] == fresh_translator.translate([short])[0]  # a long neighbour changes nothing


def test_identical_texts_in_one_call_run_once(fresh_translator, monkeypatch):
    batches = _record_batches(monkeypatch, fresh_translator)
    translated = fresh_translator.translate(["Il pleut.", "Bonjour.", "Il pleut."])
    assert sorted(t for b in batches for t in b) == ["Bonjour.", "Il pleut."]
    assert translated[0] == translated[2] and translated[0]


@pytest.mark.parametrize("texts", [[], [""], ["", "   ", "\n"]])
def test_blank_inputs_skip_the_model(fresh_translator, monkeypatch, texts):
    _forbid_generate(monkeypatch, fresh_translator)
    assert fresh_translator.translate(texts) == [""] * len(texts)


# -- token limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Bonjour.", FRENCH[1], "L'économie française, en 2024 : +1,1 %.", "é"])
def test_count_tokens_matches_the_tokenizer(tiny_translator, tiny_marian_dir, text):
    from transformers import MarianTokenizer

    tokenizer = _reference_tokenizer(tiny_marian_dir, MarianTokenizer)
    ids = tokenizer(text)["input_ids"]
    assert tiny_translator.count_tokens(text) == len(ids)
    assert ids[-1] == tokenizer.eos_token_id  # the count includes EOS


_TOKENIZERS: dict = {}


def _reference_tokenizer(folder: Path, tokenizer_class):
    if folder not in _TOKENIZERS:
        _TOKENIZERS[folder] = tokenizer_class.from_pretrained(str(folder))
    return _TOKENIZERS[folder]


def test_max_input_tokens_is_the_position_limit(tiny_translator):
    assert tiny_translator.max_input_tokens == 512


def test_overlong_input_is_refused_not_truncated(fresh_translator, monkeypatch):
    _forbid_generate(monkeypatch, fresh_translator)
    too_long = " ".join(["Le président a annoncé une réforme."] * 120)
    assert fresh_translator.count_tokens(too_long) > fresh_translator.max_input_tokens

    with pytest.raises(TooLarge) as caught:
        fresh_translator.translate(["Bonjour.", too_long])

    message = str(caught.value)
    assert "text 1 has" in message and "at most 512" in message and "segment_text" in message


# -- cache ------------------------------------------------------------------------------------------


def test_translate_cached_translates_each_text_once_then_hits_the_cache(fresh_translator, store, monkeypatch):
    texts = ["Bonjour.", "Il pleut.", "Bonjour.", "La ministre a présenté le budget de l'État.", "Il pleut."]
    batches = _record_batches(monkeypatch, fresh_translator)

    first = translate_cached(texts, fresh_translator, store)

    sent = [t for b in batches for t in b]
    assert sorted(sent) == sorted(set(texts))  # identical texts translated once
    assert [cached for _, cached in first] == [False] * len(texts)
    assert first[0][0] == first[2][0] and first[1][0] == first[4][0]

    _forbid_generate(monkeypatch, fresh_translator)
    second = translate_cached(texts, fresh_translator, store)

    assert second == [(english, True) for english, _ in first]
    assert store.count_translations(fresh_translator.model_key) == len(set(texts))


def test_translate_cached_keys_by_model(fresh_translator, store, monkeypatch):
    translate_cached(["Bonjour."], fresh_translator, store)
    other = _rewrap(fresh_translator, model_key=fresh_translator.model_key.replace("beams=1", "beams=4"))
    assert translate_cached(["Bonjour."], other, store) == [(other.translate(["Bonjour."])[0], False)]


def test_translate_cached_without_store(fresh_translator):
    result = translate_cached(["Il pleut.", "Il pleut."], fresh_translator, None)
    assert result[0] == result[1] and result[0][1] is False


# -- CUDA out of memory -----------------------------------------------------------------------------


@pytest.mark.parametrize("oom", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("CUDA error: out of memory"),
])
def test_out_of_memory_halves_the_budget_and_retries(fresh_translator, monkeypatch, oom):
    padded = len(FRENCH) * max(fresh_translator.count_tokens(t) for t in FRENCH)
    fresh_translator.batch_tokens = padded  # exactly one full batch
    calls: list[list[str]] = []
    done: list[list[str]] = []

    def fake_generate(texts):
        calls.append(list(texts))
        if len(calls) == 1:  # the first, biggest batch does not fit
            raise oom
        done.append(list(texts))
        return [f"EN<{t}>" for t in texts]

    monkeypatch.setattr(fresh_translator, "_generate", fake_generate)

    translated = fresh_translator.translate(FRENCH)

    assert translated == [f"EN<{t}>" for t in FRENCH]  # in order
    assert sorted(t for b in done for t in b) == sorted(FRENCH)  # each exactly once
    assert fresh_translator.batch_tokens == padded // 2
    assert len(calls[0]) == len(FRENCH) and len(done) >= 2


def test_out_of_memory_on_a_single_sentence_gives_up_clearly(fresh_translator, monkeypatch):
    def fake_generate(texts):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(fresh_translator, "_generate", fake_generate)
    with pytest.raises(TooLarge, match="does not fit in cpu memory even alone"):
        fresh_translator.translate(["Bonjour.", "Il pleut."])
    assert fresh_translator.batch_tokens < 16  # halved until one sentence per batch


def test_other_runtime_errors_are_not_swallowed(fresh_translator, monkeypatch):
    def fake_generate(texts):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(fresh_translator, "_generate", fake_generate)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        fresh_translator.translate(["Bonjour.", "Il pleut."])
    assert fresh_translator.batch_tokens == 4096


# -- loading ----------------------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    """Offline mode set the way a user sets it, after huggingface_hub read its constants; no hub access."""
    import huggingface_hub.constants
    from transformers import MarianMTModel, MarianTokenizer

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_download(*args, **kwargs):
        raise AssertionError("from_pretrained reached although the model is known to be missing")

    monkeypatch.setattr(MarianMTModel, "from_pretrained", no_download)
    monkeypatch.setattr(MarianTokenizer, "from_pretrained", no_download)


def _assert_one_clear_line(message: str, *fragments: str) -> None:
    assert "\n" not in message and "Traceback" not in message and "Error" not in message
    for fragment in fragments:
        assert fragment in message


def test_uncached_hub_model_offline(offline):
    with pytest.raises(ModelUnavailable) as caught:
        Translator.load("provenance-tests/no-such-model", device="cpu")
    _assert_one_clear_line(
        str(caught.value), "cannot load model 'provenance-tests/no-such-model'", "not in the local Hugging Face cache",
        "Download it once with network access", "--model /path/to/opus-mt-fr-en", "--translations FILE",
    )


@pytest.mark.parametrize(("name", "fragments"), [
    ("missing/folder/model", ["there is no such folder", "--translations FILE"]),
    ("empty", ["the folder lacks config.json, source.spm, target.spm, vocab.json, model weights"]),
    ("file.txt", ["it is a file, not a folder"]),
])
def test_missing_or_incomplete_folder(offline, tmp_path, name, fragments):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("not a model")
    model = str(tmp_path / name)
    with pytest.raises(ModelUnavailable) as caught:
        Translator.load(model, device="cpu")
    _assert_one_clear_line(str(caught.value), f"cannot load model {model!r}", *fragments)


def test_cached_hub_model_loads_offline_keyed_by_commit(tiny_marian_dir, tiny_translator, tmp_path, monkeypatch):
    import shutil

    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--provenance-tests--tiny"
    shutil.copytree(tiny_marian_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    translator = Translator.load("provenance-tests/tiny", device="cpu")

    assert translator.model_id == "provenance-tests/tiny"
    assert translator.model_key == f"provenance-tests/tiny@{commit};beams=1"
    assert translator.translate(["Bonjour."]) == tiny_translator.translate(["Bonjour."])


def test_invalid_hub_id(offline):
    with pytest.raises(ModelUnavailable, match="neither an existing folder nor a valid Hugging Face hub id"):
        Translator.load("not a model id!", device="cpu")


@pytest.mark.parametrize("options", [{"beams": 0}, {"batch_tokens": 0}, {"device": "tpu"}])
def test_bad_options_are_usage_errors(tiny_marian_dir, options):
    with pytest.raises(UsageError):
        Translator.load(str(tiny_marian_dir), **{"device": "cpu", **options})


def test_model_key_tracks_weights_and_decoding(tiny_marian_dir, tokenizer_dir, make_tiny_marian, tiny_translator):
    other_dir = make_tiny_marian(tokenizer_dir, seed=1)
    other = Translator.load(str(other_dir), device="cpu")
    again = Translator.load(str(tiny_marian_dir), device="cpu")
    wide = Translator.load(str(tiny_marian_dir), device="cpu", beams=4)

    assert tiny_translator.model_id == str(tiny_marian_dir.resolve())
    assert again.model_key == tiny_translator.model_key
    assert other.model_key != tiny_translator.model_key
    assert wide.model_key != tiny_translator.model_key
    assert tiny_translator.model_key.endswith(";beams=1") and wide.model_key.endswith(";beams=4")


def test_fallback_tokenizer_builds_a_working_model(trained_tokenizer_dir, make_tiny_marian):
    # What the tests run on when ../shared is absent.
    translator = Translator.load(str(make_tiny_marian(trained_tokenizer_dir, seed=2)), device="cpu")
    assert translator.count_tokens("Le président a annoncé une réforme.") < 20
    assert all(translator.translate(["Le président a annoncé une réforme.", "La police défend le budget."]))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_tiny_model_on_cuda_fp16(tiny_marian_dir):
    translator = Translator.load(str(tiny_marian_dir), device="cuda", batch_tokens=60)
    assert translator._model.dtype == torch.float16 and translator._model.device.type == "cuda"
    translated = translator.translate(FRENCH + [""])
    assert all(translated[:-1]) and translated[-1] == ""
    assert translator.translate(FRENCH[:1]) == translated[:1]


# -- precomputed translations -----------------------------------------------------------------------


def test_load_translations_reads_good_lines(tmp_path):
    path = tmp_path / "english.jsonl"
    lines = [{"id": "a1", "text": "The president spoke."}, {"id": 7, "text": "Numbers become strings."}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")

    found, errors = load_translations(path)

    assert found == {"a1": "The president spoke.", "7": "Numbers become strings."}
    assert errors == []


@pytest.mark.parametrize(("line", "code", "fragment"), [
    (b"{not json", "malformed_record", "not valid JSON"),
    (b'["a1", "text"]', "malformed_record", "expected a JSON object"),
    (b'{"text": "no id"}', "malformed_record", 'missing or empty "id"'),
    (b'{"id": "", "text": "empty id"}', "malformed_record", 'missing or empty "id"'),
    (b'{"id": "b2"}', "malformed_record", "\"text\" of id 'b2' is missing"),
    (b'{"id": "b3", "text": 3}', "malformed_record", "not a string"),
    (b'{"id": "b4", "text": "caf\xe9"}', "malformed_record", "not valid UTF-8"),
    (b'{"id": "a1", "text": "again"}', "duplicate_id", "id 'a1' already given"),
])
def test_load_translations_reports_bad_lines(tmp_path, line, code, fragment):
    path = tmp_path / "english.jsonl"
    path.write_bytes(b'{"id": "a1", "text": "First."}\n' + line + b'\n{"id": "z9", "text": "Last."}\n')

    found, errors = load_translations(path)

    assert found == {"a1": "First.", "z9": "Last."}
    assert len(errors) == 1
    error = errors[0]
    assert (error.item_id, error.stage, error.code) == ("english.jsonl:2", "translations", code)
    assert error.message.startswith("english.jsonl line 2: ") and fragment in error.message
    assert error.origin == f"{path}:2"


def test_load_translations_missing_file(tmp_path):
    with pytest.raises(UsageError, match="cannot read translations file"):
        load_translations(tmp_path / "nope.jsonl")


def test_translation_record_is_frozen():
    record = Translation("a1", 0, "Bonjour.", "Hello.", "tiny", cached=False)
    with pytest.raises(AttributeError):
        record.text = "changed"
