"""The Ray path on a local instance (CPU): same report as a local run, and killed workers lose nothing."""

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from provenance import distributed, pipeline  # noqa: E402
from provenance.settings import Settings  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def local_ray():
    from ray import cloudpickle

    # Test-local functions travel by value: the workers cannot import this test module.
    cloudpickle.register_pickle_by_value(__import__(__name__))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _settings(tmp_path, model_dir, **changes):
    return Settings(
        articles=(EXAMPLES / "articles",), sources=(EXAMPLES / "sources",), model=str(model_dir), device="cpu",
        out_dir=tmp_path, strict=True, articles_per_step=3, **changes,
    )


def test_ray_run_gives_the_local_report(local_ray, tmp_path, tiny_marian_dir):
    local = pipeline.run(_settings(tmp_path / "local", tiny_marian_dir))
    on_ray = pipeline.run(_settings(tmp_path / "ray", tiny_marian_dir, ray="local", ray_actors=2))
    assert on_ray["articles"] == local["articles"]
    assert on_ray["summary"] == local["summary"]


def _crash_once_then_judge(marker_dir, *job_and_shared):
    """A scoring task whose worker process dies the first time it runs each job."""
    position = job_and_shared[0]
    marker = Path(marker_dir) / f"crashed-{position}"
    if not marker.exists():
        marker.write_text("x")
        os._exit(1)  # the worker dies: Ray sees a system failure and retries the task
    return pipeline._judge_item(*job_and_shared)


def test_killed_scoring_tasks_are_retried_without_loss_or_duplicates(local_ray, tmp_path, tiny_marian_dir):
    settings = _settings(tmp_path / "local", tiny_marian_dir)
    report = pipeline.run(settings)
    index, sources, articles, sides = _jobs_inputs(settings)
    jobs = [(pos, art, sides[art.id][0], sides[art.id][1]) for pos, art in enumerate(articles)]
    shared = (index, sources, pipeline.Thresholds.load(None), settings.top_k, True)

    def judge(*args):
        return _crash_once_then_judge(tmp_path, *args)

    rows = distributed.judge_many(judge, jobs, shared)
    assert len(list(tmp_path.glob("crashed-*"))) == len(jobs)  # every task died once
    assert [row[0] for row in rows] == [art.id for art in articles]  # none lost, none doubled, in order
    by_id = {entry["id"]: entry for entry in report["articles"]}
    for article_id, _, status, entry in rows:
        assert status == "ok"
        assert entry["verdict"] == by_id[article_id]["verdict"]
        assert entry["candidates"] == by_id[article_id]["candidates"]


def _jobs_inputs(settings):
    from provenance.documents import Article, load_articles

    sources, _ = pipeline._load_sources(settings.sources)
    index = pipeline.SourceIndex.build([s.article for s in sources.values()])
    articles = [a for a in load_articles(settings.articles) if isinstance(a, Article)]
    english = pipeline._EnglishSide(settings, pipeline.Store(":memory:"))
    return index, sources, articles, english.back_translate(articles)


def test_killed_translation_actor_is_restarted_and_its_call_retried(local_ray, tiny_marian_dir):
    from provenance.translate import Translator

    options = {"model": str(tiny_marian_dir), "device": "cpu"}
    texts = [f"Le conseil a voté le budget numéro {i} après un long débat." for i in range(40)]
    expected = Translator.load(**options).translate(texts)
    pool = distributed.RayTranslator(options, actors=1)
    pending = pool._actors[0].translate.remote(texts)
    ray.kill(pool._actors[0], no_restart=False)  # dies while the call is queued or running
    assert ray.get(pending) == expected
    assert pool.translate(texts) == expected  # the restarted actor serves later calls too
