"""SourceIndex retrieval (ranking, k, dates, persistence, add) and cluster_copies."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pytest

from provenance.documents import Article
from provenance.errors import DuplicateId, MalformedRecord, UsageError
from provenance.retrieve import (COPY_MIN_SIMILARITY, Candidate, CopyCluster, SourceIndex, cluster_copies,
                                 content_key, index_path, open_index)


def make_article(article_id: str, text: str, *, title: str = "", date: str = "", lang: str = "en") -> Article:
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:16]
    return Article(id=article_id, origin=f"{article_id}.txt", lang=lang, title=title, text=text,
                   removed=(), digest=digest, date=date)


# Five stories about the same summit (the hard distractors), then other news.
SUMMIT = {
    "summit-trade": (
        "Leaders of the G20 met in Brussels on Monday for a two-day summit dominated by trade disputes. "
        "The European Commission president urged the United States and China to lower tariffs on steel and "
        "aluminium before the end of the year. Negotiators worked through the night on a joint statement "
        "that promises to reform the World Trade Organization. Several delegations said the text remained "
        "vague on agricultural subsidies, which France and Ireland refuse to cut."
    ),
    "summit-climate": (
        "Climate pledges were the focus of the second day of the G20 summit in Brussels. Activists gathered "
        "outside the conference centre demanding an end to coal financing by 2030. The German chancellor "
        "announced a new fund of four billion euros to help poorer countries adapt to floods and droughts. "
        "India and Saudi Arabia resisted wording that would commit them to phasing out fossil fuels."
    ),
    "summit-security": (
        "Thousands of police officers were deployed across Brussels as the G20 summit opened. The city "
        "closed three metro stations and banned demonstrations near the European quarter. Belgian "
        "authorities said drones had been grounded within ten kilometres of the venue. Local shopkeepers "
        "complained that the security perimeter had emptied the streets during the busiest week of the year."
    ),
    "summit-ukraine": (
        "The war in Ukraine overshadowed the G20 summit in Brussels, where the Ukrainian president addressed "
        "leaders by video link. He asked for more air defence systems and for frozen Russian assets to be "
        "used for reconstruction. The Russian foreign minister left the room during the speech. Diplomats "
        "said no agreement was reached on a ceasefire proposal put forward by Turkey."
    ),
    "summit-debt": (
        "Finance ministers at the G20 summit in Brussels agreed to extend a debt relief programme for the "
        "poorest countries by two years. The International Monetary Fund welcomed the decision but warned "
        "that interest payments now absorb a fifth of public revenue in many African states. Zambia and "
        "Ghana, which defaulted in recent years, will be the first to benefit from the new framework."
    ),
}

OTHER = {
    "football-final": "Real Madrid won the Champions League final in London after a late goal from their young "
    "striker. The Spanish club has now lifted the trophy fifteen times. Fans celebrated in the streets of Madrid "
    "until dawn.",
    "football-transfer": "Manchester United confirmed the signing of a Dutch midfielder for sixty million pounds. "
    "The player passed his medical on Tuesday and signed a five-year contract. The club hopes he will strengthen "
    "a team that finished eighth last season.",
    "tennis": "The world number one was knocked out of the French Open in the quarter-finals by an unseeded "
    "Italian. The match lasted more than four hours under the lights of the central court in Paris.",
    "election-poll": "A new poll shows the opposition party leading by six points ahead of the general election "
    "in Canada. The prime minister has promised lower taxes for families and more money for hospitals.",
    "election-result": "Voters in Portugal returned the Socialist party to power with a narrow majority. Turnout "
    "rose to sixty percent, the highest level in two decades, according to the electoral commission.",
    "flood": "Heavy rain caused flooding across northern Italy, forcing thousands of people to leave their homes. "
    "Rescue teams used boats to reach villages cut off by the water in the Emilia-Romagna region.",
    "wildfire": "Firefighters in Greece battled a wildfire near Athens for a third day as strong winds spread the "
    "flames towards the coast. Hundreds of tourists were evacuated by sea from beaches east of the capital.",
    "earthquake": "A magnitude six earthquake struck eastern Turkey overnight, damaging dozens of buildings. "
    "Officials said at least twelve people were injured but no deaths had been reported so far.",
    "central-bank": "The European Central Bank raised interest rates by a quarter of a point to fight inflation, "
    "which remains above five percent in the euro area. Markets had expected the move.",
    "oil-price": "Oil prices rose sharply after producers announced a cut in output of one million barrels a day. "
    "Brent crude climbed above ninety dollars for the first time since November.",
    "tech-layoffs": "A large American software company said it would cut ten thousand jobs as demand for cloud "
    "services slows. The chief executive blamed a difficult economic climate and higher interest rates.",
    "phone-launch": "The new smartphone unveiled in California on Wednesday has a larger battery and a faster "
    "camera. It will go on sale in Europe next month at a starting price of nine hundred euros.",
    "space-launch": "A European rocket placed two weather satellites into orbit after lifting off from French "
    "Guiana. The launch had been delayed twice because of high winds over the Atlantic.",
    "mars-rover": "NASA said its rover had found traces of organic molecules in rocks from an ancient lake bed on "
    "Mars. Scientists cautioned that the discovery is not proof that life ever existed there.",
    "vaccine": "Health authorities approved an updated vaccine against a new variant of the virus. Doctors "
    "advise people over sixty-five and those with chronic illnesses to get the booster before winter.",
    "hospital-strike": "Nurses in England began a two-day strike over pay, the largest in the history of the "
    "health service. Hospitals postponed thousands of operations and appointments.",
    "museum": "The Louvre reopened its Egyptian galleries after two years of renovation. Visitors can now see "
    "more than three thousand objects, including a statue that had never been shown to the public.",
    "film-festival": "A South Korean drama about a family of farmers won the top prize at the Cannes film "
    "festival. The jury praised its quiet portrait of rural life and its young lead actress.",
    "music-tour": "The British band announced a world tour of forty concerts starting in Dublin next spring. "
    "Tickets sold out within minutes, and fans complained about prices on resale websites.",
    "train-strike": "Rail workers in France walked out for the third time this month to protest against pension "
    "reform. Only one high-speed train in three was running between Paris and Lyon.",
    "airline": "A low-cost airline cancelled hundreds of flights over the holiday weekend because of a shortage "
    "of pilots. Passengers waited for hours at airports in Spain and Portugal.",
    "car-industry": "A German carmaker said it would build a battery factory in Hungary, creating two thousand "
    "jobs. Electric cars made up a quarter of its sales in Europe last year.",
    "housing": "House prices in London fell for the fourth month in a row as mortgage rates climbed. Estate "
    "agents said buyers were waiting for the market to settle before making offers.",
    "crime-trial": "A court in Paris sentenced a former mayor to three years in prison for corruption. Judges "
    "found that he had awarded public contracts to companies owned by his relatives.",
    "wildlife": "Conservationists counted more than two hundred wolves in the Alps this year, twice as many as "
    "a decade ago. Farmers are asking for more help to protect their sheep.",
}

TRUE_SOURCE = "summit-climate"
# A back-translation-like rendering of TRUE_SOURCE: a few words paraphrased, one sentence dropped.
NOISY_QUERY = (
    "Climate commitments were at the centre of the second day of the G20 summit in Brussels. Activists "
    "gathered in front of the conference centre calling for an end to coal funding by 2030. The German "
    "chancellor announced a new fund of four billion euros to help poor countries adapt to floods and drought."
)


def all_sources() -> list[Article]:
    dated = {"summit-climate": "2023-09-10", "summit-trade": "2023-09-09", "summit-security": "2023-08"}
    return [make_article(key, text, date=dated.get(key, "")) for key, text in {**SUMMIT, **OTHER}.items()]


@pytest.fixture(scope="module")
def index() -> SourceIndex:
    return SourceIndex.build(all_sources())


def test_fixture_size(index):
    assert len(index) == 30


def test_true_source_ranks_first_among_same_topic_distractors(index):
    candidates = index.query("fr-1", NOISY_QUERY, k=5)
    assert candidates[0] == Candidate("fr-1", TRUE_SOURCE, 1, candidates[0].similarity)
    assert [c.rank for c in candidates] == [1, 2, 3, 4, 5]
    assert all(a.similarity >= b.similarity > 0 for a, b in zip(candidates, candidates[1:]))
    # The margin over the best same-topic distractor is wide, not a coin toss.
    assert candidates[0].similarity > 2 * candidates[1].similarity


@pytest.mark.parametrize(
    ("query", "k", "expected_length"),
    [
        (NOISY_QUERY, 1, 1),
        (NOISY_QUERY, 3, 3),
        ("Brussels summit", 10, 5),  # only the five summit stories share a word: nothing with similarity 0
        ("", 10, 0),
        ("   \n\n ", 10, 0),
        ("xylophone quokka", 10, 0),  # no word the index knows
    ],
)
def test_k_bounds_and_zero_similarity(index, query, k, expected_length):
    assert len(index.query("fr", query, k=k)) == expected_length


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_is_a_usage_error(index, k):
    with pytest.raises(UsageError):
        index.query("fr", NOISY_QUERY, k=k)


@pytest.mark.parametrize("sources", [[], [make_article("blank", "")], [make_article("dots", "... !")]])
def test_index_without_words_answers_nothing(sources):
    index = SourceIndex.build(sources)
    assert len(index) == len(sources)
    assert index.query("fr", NOISY_QUERY, k=5) == []
    assert index.query_many([("a", NOISY_QUERY), ("b", "")], k=5) == [[], []]


def test_duplicate_source_ids_are_refused():
    with pytest.raises(DuplicateId):
        SourceIndex.build([make_article("x", "one story"), make_article("x", "another story")])


def test_query_many_matches_query_and_spans_blocks(index, monkeypatch):
    monkeypatch.setattr("provenance.retrieve.QUERY_BLOCK", 2)  # force several blocks
    items = [(f"q{i}", text) for i, text in enumerate([NOISY_QUERY, "", *SUMMIT.values(), "oil prices rose"])]
    many = index.query_many(items, k=3)
    assert many == [index.query(article_id, text, k=3) for article_id, text in items]
    assert [c[0].source_id for c in many[2:7]] == list(SUMMIT)  # each summit story finds itself


def test_ties_are_broken_by_source_id():
    text = "The same wire story republished twice."
    index = SourceIndex.build([make_article("b", text), make_article("a", text), make_article("c", "Other news.")])
    candidates = index.query("fr", text, k=2)
    assert [c.source_id for c in candidates] == ["a", "b"]
    assert candidates[0].similarity == candidates[1].similarity


@pytest.mark.parametrize(
    ("published_before", "window_days", "kept"),
    [
        (None, None, True),
        ("2023-09-10", None, True),  # same day: a republication can follow within hours
        ("2023-09-09", None, False),  # the source is a day later than the article
        ("2023-09-12", 2, True),
        ("2023-09-12", 1, False),  # two days earlier, outside a one-day window
        ("2023-09", None, True),  # partial article date: the whole month counts
        ("2023", 30, True),
        ("not a date", 1, True),  # unreadable article date: no filter
    ],
)
def test_date_window(index, published_before, window_days, kept):
    candidates = index.query("fr", NOISY_QUERY, k=30, published_before=published_before, window_days=window_days)
    assert (TRUE_SOURCE in [c.source_id for c in candidates]) is kept
    assert [c.rank for c in candidates] == list(range(1, len(candidates) + 1))


def test_date_window_keeps_undated_sources_and_partial_source_dates(index):
    candidates = index.query("fr", "G20 summit in Brussels", k=30, published_before="2023-09-02", window_days=5)
    found = {c.source_id for c in candidates}
    assert "summit-security" in found  # dated "2023-08": could be 2023-08-31, within five days
    assert {"summit-ukraine", "summit-debt"} <= found  # no date: kept
    assert not {"summit-climate", "summit-trade"} & found  # dated after the article


def test_query_many_dates_must_match_items(index):
    with pytest.raises(UsageError):
        index.query_many([("a", NOISY_QUERY)], k=3, published_before=["2023-01-01", None])


def test_save_load_round_trip(index, tmp_path):
    path = tmp_path / "sources.npz"
    index.save(path)
    loaded = SourceIndex.load(path)
    queries = [("a", NOISY_QUERY), ("b", "Oil prices and interest rates"), ("c", "")]
    assert len(loaded) == len(index)
    assert loaded.query_many(queries, k=5) == index.query_many(queries, k=5)
    assert SourceIndex.from_arrays(index.to_arrays()).query_many(queries, k=5) == index.query_many(queries, k=5)


def test_load_refuses_other_arrays(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, something=np.arange(3))
    with pytest.raises(MalformedRecord):
        SourceIndex.load(path)


def trim_words(text: str, count: int = 4) -> str:
    """The text without its first and last `count` words: a partial copy."""
    return " ".join(text.split()[count:-count])


def test_add_makes_new_sources_findable():
    sources = all_sources()
    held_out = [s for s in sources if s.id in {TRUE_SOURCE, "summit-debt", "museum"}]
    index = SourceIndex.build([s for s in sources if s not in held_out])
    assert TRUE_SOURCE not in [c.source_id for c in index.query("fr", NOISY_QUERY, k=30)]
    index.add(held_out)
    assert len(index) == 30 and index.added_since_build == 3
    assert index.query("fr", NOISY_QUERY, k=3)[0].source_id == TRUE_SOURCE
    with pytest.raises(DuplicateId):
        index.add([make_article("museum", "again")])


def test_recall_of_added_sources_matches_a_full_build():
    # Half the sources arrive after the build, with the old vocabulary and idf; partial texts
    # must find their source as often as with a full build: always. (With few sources a very short
    # query can consist only of words unseen at build time: that is what `build` again fixes.)
    sources = all_sources()
    grown = SourceIndex.build(sources[::2])
    grown.add(sources[1::2])
    full = SourceIndex.build(sources)
    queries = [(s.id, trim_words(s.text)) for s in sources] + [("fr", NOISY_QUERY)]
    expected = [s.id for s in sources] + [TRUE_SOURCE]
    for index in (grown, full):
        assert [found[0].source_id for found in index.query_many(queries, k=1)] == expected


def test_own_text_scores_one(index):
    # Queries are weighted exactly like the fitted sources (same n-grams, sublinear tf, idf, L2).
    for source in all_sources()[:5]:
        assert index.query("fr", source.text, k=1)[0].similarity == pytest.approx(1.0, abs=1e-5)


def test_added_state_survives_save(tmp_path):
    index = SourceIndex.build(all_sources()[:10])
    index.add(all_sources()[10:])
    index.save(tmp_path / "i.npz")
    loaded = SourceIndex.load(tmp_path / "i.npz")
    assert loaded.added_since_build == 20
    assert loaded.query("fr", NOISY_QUERY, k=5) == index.query("fr", NOISY_QUERY, k=5)


# ---- cluster_copies ---------------------------------------------------------------------------
STORY_FR = (
    "Les dirigeants du G20 se sont réunis lundi à Bruxelles pour un sommet de deux jours dominé par les "
    "différends commerciaux.\n\n"
    "La présidente de la Commission européenne a exhorté les États-Unis et la Chine à baisser leurs droits de "
    "douane sur l'acier et l'aluminium avant la fin de l'année. {q}Nous ne pouvons plus attendre{qe}, a-t-elle "
    "déclaré.\n\n"
    "Les négociateurs ont travaillé toute la nuit sur une déclaration commune qui promet de réformer "
    "l'Organisation mondiale du commerce. Plusieurs délégations ont jugé le texte vague sur les subventions "
    "agricoles, que la France et l'Irlande refusent de réduire."
)
SAME_TOPIC_FR = (
    "Des milliers de policiers ont été déployés à Bruxelles pour l'ouverture du sommet du G20.\n\n"
    "La ville a fermé trois stations de métro et interdit les manifestations près du quartier européen. "
    "Les autorités belges ont indiqué que les drones étaient interdits dans un rayon de dix kilomètres.\n\n"
    "Les commerçants se plaignent que le périmètre de sécurité a vidé les rues pendant la semaine la plus "
    "chargée de l'année, alors que les dirigeants du G20 discutent de commerce à Bruxelles."
)


def copy_articles() -> list[Article]:
    return [
        make_article("site-a/1", "Publié le 09/09/2023 à 18h02\n\n" + STORY_FR.format(q="« ", qe=" »")
                     + "\n\nLire aussi : notre dossier sur le commerce mondial\n\n© Site A", title="Sommet du G20 : "
                     "le commerce au cœur des débats", date="2023-09-09", lang="fr"),
        make_article("site-b/77", STORY_FR.format(q='"', qe='"') + "\n\nPartager sur Facebook Twitter\n\n"
                     "Abonnez-vous à notre newsletter", title="G20 à Bruxelles", date="2023-09-10", lang="fr"),
        make_article("site-c/x", "Mis à jour il y a 2 heures\n\n" + STORY_FR.format(q="“", qe="”"),
                     title="Bruxelles : un sommet sous tension", date="", lang="fr"),
        make_article("site-d/9", SAME_TOPIC_FR, title="Sommet du G20 : Bruxelles sous haute sécurité",
                     date="2023-09-08", lang="fr"),
    ]


def test_copies_cluster_and_same_topic_story_stays_out():
    clusters = cluster_copies(copy_articles())
    members = ("site-a/1", "site-b/77", "site-c/x")
    expected_id = "copy-" + hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()[:8]
    assert clusters == [CopyCluster(id=expected_id, members=members, earliest="site-a/1")]


def test_cluster_is_independent_of_input_order():
    articles = copy_articles()
    assert cluster_copies(articles[::-1]) == cluster_copies(articles)


@pytest.mark.parametrize(
    ("dates", "earliest"),
    [
        (("2023-09-09", "2023-09-10", ""), "site-a/1"),
        (("2023-09-11", "2023-09-10", ""), "site-b/77"),
        (("", "", "2024-01"), "site-c/x"),  # missing dates sort last
        (("", "", ""), "site-a/1"),  # no dates at all: smallest id
        (("2023-09-10", "2023-09-10", "2023-09-12"), "site-a/1"),  # tie on date: smallest id
    ],
)
def test_earliest_member(dates, earliest):
    articles = [
        make_article(a.id, a.text, title=a.title, date=date, lang="fr") for a, date in zip(copy_articles(), dates)
    ]
    assert cluster_copies(articles[:3])[0].earliest == earliest


def test_similarity_gap_around_the_threshold():
    from provenance.retrieve import _copy_vectors  # the measurement behind COPY_MIN_SIMILARITY

    vectors = _copy_vectors(copy_articles())
    similarity = (vectors @ vectors.T).toarray()
    assert min(similarity[0, 1], similarity[0, 2], similarity[1, 2]) > 0.75  # short texts, heavy boilerplate
    assert similarity[:3, 3].max() < 0.4 < COPY_MIN_SIMILARITY


@pytest.mark.parametrize("articles", [[], copy_articles()[:1], [make_article("e1", "", lang="fr"),
                                                               make_article("e2", "", lang="fr")]])
def test_nothing_to_cluster(articles):
    assert cluster_copies(articles) == []


def test_cluster_refuses_duplicate_ids_and_bad_threshold():
    with pytest.raises(DuplicateId):
        cluster_copies([make_article("x", "a b"), make_article("x", "a b")])
    with pytest.raises(UsageError):
        cluster_copies(copy_articles(), min_similarity=0)


def test_clusters_thousands_of_articles_blockwise():
    rng = random.Random(7)
    words = [f"mot{i}" for i in range(3000)]
    articles = [make_article(f"n{i:04d}", " ".join(rng.choices(words, k=60)), lang="fr") for i in range(3000)]
    # Plant three copies: the same body with a different trailing boilerplate line.
    for original, copy in [(10, 2000), (10, 2999), (500, 1500)]:
        articles[copy] = make_article(f"n{copy:04d}", articles[original].text + "\n\nLire aussi", lang="fr")
    clusters = cluster_copies(articles)
    assert sorted(c.members for c in clusters) == [("n0010", "n2000", "n2999"), ("n0500", "n1500")]


# ---- pruning the commonest terms --------------------------------------------------------------
def test_terms_in_too_many_sources_are_left_out(monkeypatch):
    monkeypatch.setattr("provenance.retrieve.PRUNE_MIN_DOCUMENTS", 3)
    monkeypatch.setattr("provenance.retrieve.PRUNE_DOCUMENT_SHARE", 0.1)
    pruned = SourceIndex.build(all_sources())
    full_vocabulary = set(SourceIndex.build(all_sources()[:2])._vocabulary)  # under 3 sources: nothing pruned
    assert "the" in full_vocabulary and "the" not in pruned._vocabulary  # in nearly every source
    assert "brussels" not in pruned._vocabulary  # the five summit stories: more than 3
    assert "climate" in pruned._vocabulary
    # Rankings still come out right, and a source's own text still scores 1 (same weighting both sides).
    assert pruned.query("fr", NOISY_QUERY, k=1)[0].source_id == TRUE_SOURCE
    for source in all_sources()[:5]:
        assert pruned.query("fr", source.text, k=1)[0].similarity == pytest.approx(1.0, abs=1e-5)


def test_pruning_never_empties_the_index(monkeypatch):
    monkeypatch.setattr("provenance.retrieve.PRUNE_MIN_DOCUMENTS", 1)
    index = SourceIndex.build([make_article(str(i), "the same words") for i in range(4)])
    assert index.query("fr", "the same words", k=1)[0].similarity == pytest.approx(1.0, abs=1e-5)


# ---- the index kept next to the store -----------------------------------------------------------
@pytest.mark.parametrize("store, expected", [
    (":memory:", None),
    ("out/provenance.sqlite", Path("out/provenance.sqlite.index.npz")),
    (Path("/data/runs/x.db"), Path("/data/runs/x.db.index.npz")),
])
def test_index_path_is_next_to_the_store(store, expected):
    assert index_path(store) == expected


def forbid_build(monkeypatch):
    monkeypatch.setattr(SourceIndex, "build", classmethod(lambda cls, sources: pytest.fail("index rebuilt")))


def test_saved_index_is_reused_when_the_sources_are_the_same(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite.index.npz"
    first = open_index(path, all_sources())
    assert path.exists() and not list(tmp_path.glob("*.partial.npz"))
    forbid_build(monkeypatch)
    again = open_index(path, list(reversed(all_sources())))  # order does not matter
    queries = [("a", NOISY_QUERY), ("b", "oil prices")]
    assert again.query_many(queries, k=3) == first.query_many(queries, k=3)


def test_new_sources_are_added_to_the_saved_index(tmp_path, monkeypatch):
    path = tmp_path / "i.npz"
    sources = all_sources()
    open_index(path, sources[:27])
    forbid_build(monkeypatch)
    grown = open_index(path, sources)  # 3 new of 30: under REBUILD_ADDED_SHARE
    assert len(grown) == 30 and grown.added_since_build == 3
    assert SourceIndex.load(path).added_since_build == 3  # saved with them


def test_many_new_sources_mean_a_rebuild(tmp_path):
    path = tmp_path / "i.npz"
    open_index(path, all_sources()[:10])
    index = open_index(path, all_sources())
    assert len(index) == 30 and index.added_since_build == 0


@pytest.mark.parametrize("change", ["text", "date", "removed"])
def test_changed_or_removed_sources_mean_a_rebuild(tmp_path, change):
    path = tmp_path / "i.npz"
    sources = all_sources()
    open_index(path, sources)
    if change == "text":
        sources[3] = make_article(sources[3].id, "An entirely different story about trains.")
    elif change == "date":
        sources[3] = make_article(sources[3].id, sources[3].text, date="2020-01-01")
    else:
        del sources[3]
    index = open_index(path, sources)
    assert index.content_keys() == {s.id: content_key(s) for s in sources}
    assert SourceIndex.load(path).content_keys() == index.content_keys()
    if change == "text":
        assert index.query("fr", "different story about trains", k=1)[0].source_id == sources[3].id


@pytest.mark.parametrize("content", [b"", b"not a zip file", None])
def test_unreadable_or_old_index_files_are_rebuilt(tmp_path, content, caplog):
    path = tmp_path / "i.npz"
    if content is None:  # a valid npz of another format version
        np.savez(path, meta_json=np.frombuffer(b'{"format_version": 1}', dtype=np.uint8))
    else:
        path.write_bytes(content)
    index = open_index(path, all_sources())
    assert len(index) == 30
    assert "building it again" in caplog.text
    assert len(SourceIndex.load(path)) == 30


def test_no_path_builds_in_memory(tmp_path):
    index = open_index(None, all_sources())
    assert len(index) == 30 and not list(tmp_path.iterdir())
    with pytest.raises(DuplicateId):
        open_index(None, all_sources() + all_sources()[:1])
