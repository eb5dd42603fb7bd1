"""Ray scale-out: translation on GPU (or CPU) actors, scoring as CPU tasks; results land in the same store.

Only `provenance check --ray` imports this module, and only it imports Ray (`pip install provenance[ray]`).
The driver keeps what must stay consistent: the SQLite store, the translation cache and the run's item
status. Workers hold no state that matters: an actor or task killed mid-run is restarted or retried by
Ray, and a run killed as a whole resumes from the store like a local one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from .errors import UsageError
from .translate import RunMemo, Translator

log = logging.getLogger(__name__)

SHARD_SENTENCES = 1024  # sentences per actor call: large enough to batch well, small enough to spread
ACTOR_RESTARTS = 3  # a dead translation actor comes back this many times; its call is retried on it
TASK_RETRIES = 3  # a scoring task whose worker died is run again this many times


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise UsageError("--ray needs Ray: pip install 'provenance[ray]'") from exc
    return ray


def connect(address: str | None) -> Any:
    """Join a cluster ("auto" or ray://host:port) or start a local instance ("local" or None)."""
    ray = _import_ray()
    if not ray.is_initialized():
        target = None if address in (None, "", "local") else address
        try:
            ray.init(address=target, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        except ConnectionError as exc:
            raise UsageError(f"cannot reach a Ray cluster at {address!r}: {exc}") from exc
    return ray


class _TranslatorActor:
    """Holds one Translator (model loaded once) and translates the shards it is sent."""

    def __init__(self, options: dict):
        self.translator = Translator.load(**options)

    def describe(self) -> tuple[str, str, int]:
        return self.translator.model_id, self.translator.model_key, self.translator.max_input_tokens

    def translate(self, texts: list[str]) -> list[str]:
        return self.translator.translate(texts)


class RayTranslator:
    """The Translator interface over a pool of Ray actors: one per GPU, or `actors` CPU actors."""

    def __init__(self, options: dict, address: str | None = None, actors: int | None = None):
        ray = connect(address)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        count = actors or gpus or 1
        # A GPU actor holds its GPU. A CPU actor asks for no CPU once placed (Ray's default for actors), so
        # the scoring tasks of the same step can still be scheduled beside it: the two never run at once.
        per_actor = {"num_gpus": 1} if gpus and options.get("device") != "cpu" else {}
        actor_class = ray.remote(max_restarts=ACTOR_RESTARTS, max_task_retries=ACTOR_RESTARTS, **per_actor)(
            _TranslatorActor
        )
        self._ray = ray
        self._actors = [actor_class.remote(options) for _ in range(count)]
        self.model_id, self.model_key, self.max_input_tokens = ray.get(self._actors[0].describe.remote())
        self._tokenizer = _load_tokenizer(self.model_id)
        self.memo = RunMemo()  # this run's translations, as a local Translator keeps them
        log.info("ray: %d translation actor(s) for %s", count, self.model_id)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, truncation=False)["input_ids"])

    def translate(self, texts: Sequence[str]) -> list[str]:
        """Length-sorted shards across the actors, original order restored."""
        if not texts:
            return []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        # Every count-th sentence of the sorted order: shards stay length-sorted inside and equal in work,
        # and every actor gets one.
        count = max(len(self._actors), -(-len(order) // SHARD_SENTENCES))
        shards = [order[start::count] for start in range(count) if order[start::count]]
        pending = [
            self._actors[n % len(self._actors)].translate.remote([texts[i] for i in shard])
            for n, shard in enumerate(shards)
        ]
        outputs: list[str] = [""] * len(texts)
        for shard, translated in zip(shards, self._ray.get(pending)):
            for i, text in zip(shard, translated):
                outputs[i] = text
        return outputs


def _load_tokenizer(model_id: str):
    from transformers import MarianTokenizer

    return MarianTokenizer.from_pretrained(model_id)


def judge_many(judge: Callable[..., Any], jobs: Sequence[tuple], shared: tuple, address: str | None = None) -> list:
    """Run `judge(*job, *shared)` for every job as Ray tasks; `shared` goes to the object store once."""
    ray = connect(address)
    shared_refs = [ray.put(value) for value in shared]
    remote = ray.remote(max_retries=TASK_RETRIES, retry_exceptions=False)(_call)
    return ray.get([remote.remote(judge, job, *shared_refs) for job in jobs])


def _call(judge: Callable[..., Any], job: tuple, *shared: Any) -> Any:
    return judge(*job, *shared)
