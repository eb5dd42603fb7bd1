"""Overhead of the Ray path: the same translation workload locally and through Ray actors, on this machine.

    python benchmarks/ray_overhead.py [--sentences 256] [--d-model 256] [--layers 3]

The model is a random-weight MarianMT (no pretrained weights are reachable here) with the real opus-mt
tokenizer from ../shared/data/tokenizers when present. Every run translates the same sentences and must
give identical outputs; the figure is the wall time of `translate` (model loading excluded on both sides).
Rows: a local Translator on one torch thread against one Ray actor (Ray gives a CPU actor one thread):
the same work, so the difference is the Ray path's overhead (shards, serialisation, scheduling). Then
all cores: local torch threads against one single-threaded actor per core, the way a CPU cluster runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tools"))


def french_sentences(count: int) -> list[str]:
    path = SHARED / "testsets" / "fra-eng" / "newstest2013.fra"
    if path.is_file():
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return lines[:count]
    return [f"Le conseil municipal a voté le budget numéro {i} après un long débat." for i in range(count)]


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    import ray
    import torch

    from make_tiny_marian import make_tiny_marian
    from provenance import distributed
    from provenance.translate import Translator

    tokenizer = SHARED / "tokenizers" / "opus-mt-tc-big-fr-en"
    if not tokenizer.is_dir():
        sys.exit("needs ../shared/data/tokenizers/opus-mt-tc-big-fr-en (real Marian tokenizer files)")
    cores = os.cpu_count() or 1
    texts = french_sentences(args.sentences)
    with tempfile.TemporaryDirectory() as folder:
        model = make_tiny_marian(tokenizer, Path(folder) / "model", d_model=args.d_model, layers=args.layers)
        options = {"model": str(model), "device": "cpu"}

        local = Translator.load(**options, progress=False)
        local.translate(texts[:8])  # warm-up
        local_runs = {}
        for threads in sorted({1, cores}):
            torch.set_num_threads(threads)
            local_runs[threads] = timed(local.translate, texts)
        expected = local_runs[1][1]
        assert local_runs[cores][1] == expected, "thread count changed translations"

        ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
        rows = []
        for actors in sorted({1, cores}):
            pool = distributed.RayTranslator(options, actors=actors)
            pool.translate(texts[:8])
            seconds, outputs = timed(pool.translate, texts)
            assert outputs == expected, "the Ray path changed translations"
            baseline = local_runs[actors][0]
            rows.append({"row": f"local, {actors} torch thread(s)", "seconds": baseline, "baseline": baseline})
            rows.append({"row": f"ray, {actors} actor(s) x 1 thread", "seconds": seconds, "baseline": baseline})
            for actor in pool._actors:
                ray.kill(actor)
        ray.shutdown()

    print(f"{len(texts)} sentences, random Marian d_model={args.d_model} layers={args.layers}, {cores} cores")
    for row in rows:
        row["sentences_per_s"] = len(texts) / row["seconds"]
        row["overhead_vs_local"] = row["seconds"] / row.pop("baseline") - 1
        print(f"{row['row']:<32} {row['seconds']:7.2f} s  {row['sentences_per_s']:7.1f} sent/s  "
              f"overhead {100 * row['overhead_vs_local']:+.1f}%")
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "ray_overhead",
        "date": date.today().isoformat(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cores": cores,
                    "load_average": os.getloadavg()},
        "versions": {"ray": ray.__version__, "torch": torch.__version__},
        "sentences": len(texts),
        "model": {"d_model": args.d_model, "layers": args.layers, "weights": "random"},
        "rows": rows,
    }
    path = args.out / f"ray_overhead-{date.today().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
