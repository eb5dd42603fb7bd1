"""Back-translation throughput: plain HF `generate` against provenance's engines, in one run.

Model: a MarianMTModel with exactly the shape of Helsinki-NLP/opus-mt-fr-en (d_model 512, 6 + 6 layers,
8 heads, FFN 2048, vocabulary 59,514, swish, static positions, shared embeddings), random weights from the
config (pretrained weights are not reachable here). Input: French lines of newstest2013 tokenized with the
real opus-mt-tc-big-fr-en source.spm from ../shared (its vocabulary padded to 59,514 with unused pieces,
<pad> last as in opus-mt-fr-en). Random weights stop at random lengths, so every row is forced to the same
output length (min = max new tokens, the last one EOS) and each row is checked to have produced it.

Rows (ratios against row a, same machine, same run):
  a  naive HF generate, fp32, greedy, batch 32, file order (what users write)
  b  tuned HF generate: length-sorted, batch 32 (bigger batches were slower on this 2-core CPU),
     and with dynamic int8 at the same batch
  c  CTranslate2 int8 and float32 (skipped when ctranslate2 is not installed)
  d  provenance default path (torch engine, fp32: must equal row a token for token)
  e  provenance fastest path (int8 + vocabulary shortlist)
  f  beam 4: HF beside provenance (and CTranslate2 int8)
  g  republication-like corpus (each story on 10 sites, with site boilerplate): effective sentences/s
     through translate_iterable (the run memo and dedup come before any tokenising or decoding)
  a-end  row a again at the end: on a shared machine, anything but x1.00 means the run was disturbed
On a GPU the rows run again in fp16 there; without one they are skipped (and said so in the JSON).
The 1-minute load average is recorded before the run, after each row and after the run: on a shared
machine a timing taken under load is not comparable (wait for a quiet machine before a full run).

Run: python benchmarks/translate_throughput.py [--sentences 512] [--beam-sentences 128] [--quick]
Writes benchmarks/results/<machine>-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from provenance.translate import Translator, translate_iterable

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TOKENIZER = Path("data/tokenizers/opus-mt-tc-big-fr-en")
TESTSET = Path("data/testsets/fra-eng/newstest2013.fra")
ENGLISH_TESTSETS = [f"data/testsets/fra-eng/{name}.eng" for name in
                    ("news-test2008", "newstest2009", "newstest2010", "newstest2011", "newstest2012")]
RESULTS = Path(__file__).resolve().parent / "results"

OPUS_MT_FR_EN_VOCAB = 59_514
OUTPUT_TOKENS = 40  # forced per row, EOS included
NAIVE_BATCH = 32
HF_TUNED_BATCH = 32  # length-sorted; 96-128 were slower on the 2-core CPU, fp32 and int8 alike
SHORTLIST = 3000  # frequent English target tokens kept by the fastest path (plus each batch's source tokens)
FASTEST_BATCH_TOKENS = 8192
SITES = 10  # republication corpus: each story appears on this many sites
STORY_SENTENCES = 16
BOILERPLATE = ["Abonnez-vous à notre lettre d'information sur {site}.",
               "Tous droits réservés {site} 2024.",
               "Lire aussi sur {site} : nos autres articles du jour."]


@dataclass
class Row:
    name: str
    label: str
    sentences: int
    seconds: float
    output_tokens: int
    peak_rss_mb: float
    identical_to_a: float | None = None  # share of rows with exactly row a's tokens
    ratio_to_a: float | None = None
    note: str = ""
    load_after: float | None = None  # 1-minute load average when the row ended
    outputs: list = field(default_factory=list, repr=False)

    @property
    def sentences_per_s(self) -> float:
        return self.sentences / self.seconds

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("outputs")
        data["sentences_per_s"] = round(self.sentences_per_s, 2)
        data["output_tokens_per_s"] = round(self.output_tokens / self.seconds, 1)
        data["seconds"] = round(self.seconds, 2)
        return data


class PeakMemory:
    """Peak resident memory of this process while the block runs (sampled from /proc every 10 ms)."""

    def __enter__(self):
        self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        return self

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())
        if torch.cuda.is_available():
            self.peak = torch.cuda.max_memory_allocated() / 2**20  # on a GPU the GPU's memory is what counts


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- model and data ---------------------------------------------------------------------------------


def build_model_folder(folder: Path) -> Path:
    """opus-mt-fr-en's architecture with random weights and the real tc-big tokenizer files, saved to `folder`."""
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    source = SHARED / TOKENIZER
    for name in ("source.spm", "target.spm", "tokenizer_config.json", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, folder / name)
    vocab = json.loads((source / "vocab.json").read_text(encoding="utf-8"))
    vocab.pop("<pad>")
    for i in range(len(vocab), OPUS_MT_FR_EN_VOCAB - 1):
        vocab[f"<unused{i}>"] = i
    vocab["<pad>"] = OPUS_MT_FR_EN_VOCAB - 1
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer.from_pretrained(str(folder))
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    config = MarianConfig(
        vocab_size=OPUS_MT_FR_EN_VOCAB, decoder_vocab_size=OPUS_MT_FR_EN_VOCAB, d_model=512,
        encoder_layers=6, decoder_layers=6, encoder_attention_heads=8, decoder_attention_heads=8,
        encoder_ffn_dim=2048, decoder_ffn_dim=2048, activation_function="swish", static_position_embeddings=True,
        scale_embedding=True, share_encoder_decoder_embeddings=True, max_position_embeddings=512,
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=eos,
    )
    torch.manual_seed(0)
    model = MarianMTModel(config).eval()
    # opus-mt-fr-en's generation_config.json: pad banned, beam 4 unless told otherwise, EOS forced at 512.
    model.generation_config.bad_words_ids = [[pad]]
    model.generation_config.num_beams = 4
    model.generation_config.max_length = 512
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def french_sentences(count: int) -> list[str]:
    lines = [line.strip() for line in (SHARED / TESTSET).read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line][:count]


def english_texts() -> list[str]:
    texts = []
    for name in ENGLISH_TESTSETS:
        texts += (SHARED / name).read_text(encoding="utf-8").splitlines()
    return texts


def republication_corpus(sentences: list[str]) -> list[str]:
    """Each story (a run of sentences) published on SITES sites, each adding its boilerplate lines."""
    stories = [sentences[i:i + STORY_SENTENCES] for i in range(0, len(sentences), STORY_SENTENCES)]
    corpus = []
    for story in stories:
        for site in range(SITES):
            name = f"site{site}.example"
            corpus += story + [line.format(site=name) for line in BOILERPLATE]
    return corpus


# -- rows -------------------------------------------------------------------------------------------


def hf_row(name, label, model, tokenizer, texts, *, batch, sort, beams, tokens, device) -> Row:
    """model.generate over fixed-size batches (file order or length-sorted), every row forced to `tokens`."""
    order = sorted(range(len(texts)), key=lambda i: -len(tokenizer(texts[i])["input_ids"])) if sort else range(len(texts))
    order = list(order)
    outputs: list = [None] * len(texts)
    warm = tokenizer(texts[:2], return_tensors="pt", padding=True).to(device)  # first-call costs stay out
    with torch.inference_mode():
        model.generate(**warm, num_beams=beams, do_sample=False, max_new_tokens=2)
    with PeakMemory() as memory:
        start = time.perf_counter()
        for first in range(0, len(order), batch):
            rows = order[first:first + batch]
            inputs = tokenizer([texts[i] for i in rows], return_tensors="pt", padding=True).to(device)
            with torch.inference_mode():
                generated = model.generate(**inputs, num_beams=beams, do_sample=False,
                                           max_new_tokens=tokens, min_new_tokens=tokens)
            for i, row in zip(rows, generated.tolist()):
                outputs[i] = row[1:]
        _sync(device)
        seconds = time.perf_counter() - start
    _check_lengths(name, [_until_eos(row, tokenizer) for row in outputs], tokens)
    return Row(name, label, len(texts), seconds, len(texts) * tokens, memory.peak,
               outputs=[_until_eos(row, tokenizer) for row in outputs])


def provenance_row(name, label, translator: Translator, texts, *, tokens, device) -> Row:
    """Translator.translate with every row forced to `tokens`; token ids recorded for the checks."""
    translator.fixed_output_tokens = tokens
    translator.progress = False
    recorded: dict[str, list[int]] = {}
    real = translator._generate_ids

    def record(batch):
        ids = real(batch)
        recorded.update(zip(batch, ids))
        return ids

    translator._generate_ids(texts[:2])  # warm-up, untimed
    translator._generate_ids = record
    with PeakMemory() as memory:
        start = time.perf_counter()
        translator.translate(texts)
        _sync(device)
        seconds = time.perf_counter() - start
    translator._generate_ids = real
    outputs = [recorded[text] for text in texts]
    _check_lengths(name, outputs, tokens)
    return Row(name, label, len(texts), seconds, len(texts) * tokens, memory.peak, outputs=outputs)


def ct2_row(name, label, folder: Path, tokenizer, texts, *, compute_type, beams, tokens, device) -> Row:
    translator = Translator.load(str(folder), device=device, engine="ct2", compute_type=compute_type, beams=beams)
    return provenance_row(name, label, translator, texts, tokens=tokens, device=device)


def republication_row(name, label, folder, corpus, *, tokens, device, **options) -> Row:
    """Effective throughput of the pipeline's path (translate_iterable: run memo + dedup) on reprints."""
    translator = Translator.load(str(folder), device=device, progress=False, **options)
    translator.fixed_output_tokens = tokens
    translator._generate_ids(corpus[:2])  # warm-up, untimed (the memo stays empty)
    with PeakMemory() as memory:
        start = time.perf_counter()
        translated = sum(1 for _ in translate_iterable(corpus, translator, None))
        _sync(device)
        seconds = time.perf_counter() - start
    distinct = len(set(corpus))
    return Row(name, label, translated, seconds, translated * tokens, memory.peak,
               note=f"{len(corpus)} sentences, {distinct} distinct")


def _until_eos(row: list[int], tokenizer) -> list[int]:
    row = [t for t in row if t != tokenizer.pad_token_id]
    return row[: row.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in row else row


def _check_lengths(name: str, outputs: list[list[int]], tokens: int) -> None:
    wrong = [i for i, row in enumerate(outputs) if len(row) != tokens - 1]
    if wrong:
        raise SystemExit(f"row {name}: {len(wrong)} outputs are not {tokens - 1} tokens + EOS "
                         f"(first: #{wrong[0]}, {len(outputs[wrong[0]])} tokens)")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _skip(label: str, why: str) -> None:
    print(f"  skipped {label}: {why}", flush=True)


# -- run --------------------------------------------------------------------------------------------


def run_device(device: str, folder: Path, texts: list[str], beam_texts: list[str], corpus: list[str],
               tokens: int, english: list[str]) -> list[Row]:
    from transformers import MarianMTModel, MarianTokenizer

    from provenance.engine import _quantized

    gpu = device.startswith("cuda")
    tokenizer = MarianTokenizer.from_pretrained(str(folder))
    fp32 = MarianMTModel.from_pretrained(str(folder)).to(device).eval()
    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)
        row.load_after = round(os.getloadavg()[0], 2)
        base = rows[0]
        row.ratio_to_a = row.sentences_per_s / base.sentences_per_s
        if row.outputs and row.name[0] in "abcde" and len(row.outputs) == len(base.outputs):
            row.identical_to_a = sum(x == y for x, y in zip(row.outputs, base.outputs)) / len(row.outputs)
        print(f"  {row.name:<4} {row.label:<52} {row.sentences_per_s:9.1f} sent/s  x{row.ratio_to_a:5.2f}"
              f"  identical {'-' if row.identical_to_a is None else f'{row.identical_to_a:.1%}'}"
              f"  load {row.load_after}", flush=True)

    hf_options = {"tokenizer": tokenizer, "texts": texts, "beams": 1, "tokens": tokens, "device": device}
    add(hf_row("a", "HF generate fp32 greedy, batch 32, file order", fp32, batch=NAIVE_BATCH, sort=False, **hf_options))
    add(hf_row("b", f"HF generate fp32, length-sorted, batch {HF_TUNED_BATCH}", fp32, batch=HF_TUNED_BATCH,
               sort=True, **hf_options))
    if gpu:
        half = MarianMTModel.from_pretrained(str(folder), dtype=torch.float16).to(device).eval()
        add(hf_row("b2", "HF generate fp16, length-sorted, batch 512", half, batch=512, sort=True, **hf_options))
    else:
        int8 = _quantized(MarianMTModel.from_pretrained(str(folder)).eval())
        add(hf_row("b2", f"HF generate dynamic int8, length-sorted, batch {HF_TUNED_BATCH}", int8,
                   batch=HF_TUNED_BATCH, sort=True, **hf_options))
        del int8
    try:
        import ctranslate2  # noqa: F401

        for compute_type in (("int8_float16", "float16") if gpu else ("int8", "float32")):
            add(ct2_row(f"c-{compute_type}", f"CTranslate2 {compute_type}", folder, tokenizer, texts,
                        compute_type=compute_type, beams=1, tokens=tokens, device=device))
    except ImportError:
        _skip("c (CTranslate2)", "ctranslate2 is not installed: pip install 'provenance[ct2]'")

    default = Translator.load(str(folder), device=device)
    add(provenance_row("d", f"provenance default ({'fp16' if gpu else 'fp32'} torch engine)", default, texts,
                       tokens=tokens, device=device))
    if gpu:
        fastest = Translator.load(str(folder), device=device, batch_tokens=65536)
        label = "provenance fastest (fp16, 64k-token batches)"
    else:
        fastest = Translator.load(str(folder), device=device, quantize="int8", shortlist=SHORTLIST,
                                  shortlist_texts=english, batch_tokens=FASTEST_BATCH_TOKENS)
        label = f"provenance fastest (int8 + shortlist {SHORTLIST})"
    add(provenance_row("e", label, fastest, texts, tokens=tokens, device=device))
    if not gpu:
        int8_only = Translator.load(str(folder), device=device, quantize="int8", batch_tokens=FASTEST_BATCH_TOKENS)
        add(provenance_row("e2", "provenance int8 only (no shortlist)", int8_only, texts, tokens=tokens,
                           device=device))

    beam_hf = hf_row("f-hf", f"beam 4: HF generate fp32, sorted, batch 32 ({len(beam_texts)} sent.)", fp32,
                     tokenizer=tokenizer, texts=beam_texts, beams=4, tokens=tokens, device=device,
                     batch=NAIVE_BATCH, sort=True)
    add(beam_hf)
    beam_default = Translator.load(str(folder), device=device, beams=4)
    add(_beside(provenance_row("f-d", "beam 4: provenance default", beam_default, beam_texts, tokens=tokens,
                               device=device), beam_hf))
    if not gpu:
        beam_fast = Translator.load(str(folder), device=device, beams=4, quantize="int8", shortlist=SHORTLIST,
                                    shortlist_texts=english)
        add(_beside(provenance_row("f-e", "beam 4: provenance fastest (int8 + shortlist)", beam_fast, beam_texts,
                                   tokens=tokens, device=device), beam_hf))
    try:
        add(_beside(ct2_row("f-ct2", "beam 4: CTranslate2 int8", folder, tokenizer, beam_texts,
                            compute_type="int8_float16" if gpu else "int8", beams=4, tokens=tokens,
                            device=device), beam_hf))
    except ImportError:
        _skip("f-ct2", "ctranslate2 is not installed")

    add(republication_row("g", f"republication corpus, provenance default ({SITES} sites)", folder, corpus,
                          tokens=tokens, device=device))
    # Row a once more: on a shared machine, a drift between the two says the ratios are not to be trusted.
    add(hf_row("a-end", "row a again, last (drift check: should read x1.00)", fp32, batch=NAIVE_BATCH, sort=False,
               **hf_options))
    return rows


def _beside(row: Row, reference: Row) -> Row:
    """Beam rows: the identical share is against HF's beam 4 output, not row a."""
    row.identical_to_a = None
    row.note = (f"identical to HF beam 4: {sum(x == y for x, y in zip(row.outputs, reference.outputs)) / len(row.outputs):.1%}; "
                f"x{row.sentences_per_s / reference.sentences_per_s:.2f} HF beam 4")
    return row


def machine() -> dict:
    import transformers

    info = {"machine": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
            "cpu": _cpu_name(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "transformers": transformers.__version__}
    try:
        import ctranslate2

        info["ctranslate2"] = ctranslate2.__version__
    except ImportError:
        info["ctranslate2"] = None
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=512, help="newstest2013 sentences for the main rows")
    parser.add_argument("--beam-sentences", type=int, default=128, help="sentences for the (slow) beam 4 rows")
    parser.add_argument("--tokens", type=int, default=OUTPUT_TOKENS, help="forced output tokens per row")
    parser.add_argument("--quick", action="store_true", help="smoke test: 24 sentences, 8 tokens, no JSON")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default benchmarks/results/...)")
    args = parser.parse_args(argv)
    if not (SHARED / TOKENIZER / "source.spm").is_file():
        print(f"needs {SHARED / TOKENIZER} and {SHARED / TESTSET} (the ../shared folder)", file=sys.stderr)
        return 2
    if args.quick:
        args.sentences, args.beam_sentences, args.tokens = 24, 8, 8
    torch.set_num_threads(os.cpu_count() or 1)
    import transformers

    transformers.logging.set_verbosity_error()  # opus-mt's max_length=512 beside max_new_tokens warns per call
    texts = french_sentences(args.sentences)
    beam_texts = texts[: args.beam_sentences]
    corpus = republication_corpus(texts)
    english = english_texts()
    info = machine()
    print(f"{info['cpu']} ({info['cpu_count']} cores), torch {info['torch']}, transformers {info['transformers']}, "
          f"ctranslate2 {info['ctranslate2']}; {len(texts)} sentences x {args.tokens} output tokens", flush=True)
    results = {"machine": info, "date": datetime.date.today().isoformat(),
               "workload": {"sentences": len(texts), "beam_sentences": len(beam_texts), "output_tokens": args.tokens,
                            "testset": str(TESTSET), "republication_corpus": len(corpus),
                            "model": "MarianMTModel, opus-mt-fr-en shape, random weights"},
               "load_average_1min": {"before": round(os.getloadavg()[0], 2)},
               "devices": {}, "skipped": {}}
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
        os.environ.setdefault("PROVENANCE_CACHE", str(Path(tmp) / "cache"))
        folder = build_model_folder(Path(tmp))
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        if "cuda" not in devices:
            results["skipped"]["cuda"] = "no CUDA GPU: the fp16 GPU rows did not run"
            _skip("cuda rows", "torch sees no CUDA GPU")
        for device in devices:
            print(f"[{device}]", flush=True)
            rows = run_device(device, folder, texts, beam_texts, corpus, args.tokens, english)
            results["devices"][device] = [row.as_json() for row in rows]
            print_table(device, rows)
    results["load_average_1min"]["after"] = round(os.getloadavg()[0], 2)
    print(f"1-minute load average: {results['load_average_1min']['before']} before, "
          f"{results['load_average_1min']['after']} after")
    if not args.quick:
        out = args.out or RESULTS / f"{info['machine']}-{results['date']}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


def print_table(device: str, rows: list[Row]) -> None:
    print(f"\n{device}: {'row':<5} {'what':<56} {'sent/s':>8} {'tok/s':>8} {'peak MB':>8} {'x a':>6} {'same as a':>9} {'load':>5}")
    for row in rows:
        same = "-" if row.identical_to_a is None else f"{row.identical_to_a:.1%}"
        print(f"{'':5} {row.name:<5} {row.label:<56} {row.sentences_per_s:8.1f} {row.output_tokens / row.seconds:8.0f} "
              f"{row.peak_rss_mb:8.0f} {row.ratio_to_a:6.2f} {same:>9} {row.load_after:5.2f}  {row.note}")
    print()


if __name__ == "__main__":
    sys.exit(main())
