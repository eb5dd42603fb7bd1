"""documents: loading txt/html/JSONL/CSV, bad inputs as per-item errors, boilerplate cleaning, language check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provenance.documents import (
    DECLARED_MT,
    MAX_ARTICLE_BYTES,
    Article,
    boilerplate_kind,
    clean_text,
    detect_language,
    load_articles,
    make_digest,
    normalise_line,
    strip_title_suffix,
)
from provenance.errors import ItemError, UsageError

DATA = Path(__file__).parent / "data" / "documents"
EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "examples"

FRENCH = (
    "La ville de Lyon a inauguré mardi un nouveau pont piétonnier sur le Rhône, a annoncé la mairie "
    "dans un communiqué publié dans la matinée. Selon les services techniques, l'ouvrage a coûté 32 millions "
    "d'euros et doit accueillir près de 20 000 piétons par jour."
)
ENGLISH = (
    "The city council approved on Tuesday the construction of a new pedestrian bridge over the river, the "
    "mayor's office said in a statement. It will cost about 32 million euros and is expected to carry "
    "20,000 people a day, according to the technical services."
)
GERMAN = (DATA / "german.txt").read_text(encoding="utf-8")
SPANISH = (
    "El gobierno de España anunció el martes que la nueva ley entrará en vigor el próximo año, según un "
    "comunicado publicado por el ministerio de Economía. Los sindicatos criticaron la medida y convocaron "
    "una huelga para la semana que viene."
)
ITALIAN = (
    "Il governo italiano ha approvato martedì una nuova legge sul lavoro, secondo un comunicato del "
    "ministero. I sindacati hanno criticato la misura e hanno annunciato uno sciopero generale per la "
    "prossima settimana in tutto il paese."
)
RUSSIAN = (
    "Правительство России во вторник объявило о новых мерах поддержки экономики. "
    "По словам министра, эти меры помогут малому бизнесу пережить трудный период."
)


def load(*paths, lang: str = "fr") -> list[Article | ItemError]:
    return list(load_articles(paths, lang=lang))


def only(items: list) -> Article | ItemError:
    assert len(items) == 1, items
    return items[0]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# ------------------------------------------------------------------ language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FRENCH, "fr"),
        (ENGLISH, "en"),
        (GERMAN, "unknown"),
        (SPANISH, "unknown"),
        (ITALIAN, "unknown"),
        (RUSSIAN, "unknown"),
        ("Les espions sont à Ankara", "fr"),  # a short text: any signal decides
        ("Les espions parlent", "unknown"),  # "les" is Spanish too: no signal (and short texts are accepted)
        ("The spies talk", "en"),
        ("Kirby Naryshkin Burns", "unknown"),  # names only: no signal
        ("", "unknown"),
        ("2022 2023 — 12 000", "unknown"),
        (FRENCH + " " + "He said: “we will see.”", "fr"),  # a short English quote in French text
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


# ------------------------------------------------------------------ typography


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("les «\u00a0erreurs de calcul\u00a0», a dit", 'les "erreurs de calcul", a dit'),
        ("les « erreurs de calcul », a dit", 'les "erreurs de calcul", a dit'),
        ("les «erreurs de calcul», a dit", 'les "erreurs de calcul", a dit'),
        ("les “erreurs de calcul”, a dit", 'les "erreurs de calcul", a dit'),
        ("d’erreurs de calcul, » dit", "d'erreurs de calcul,\" dit"),
        ("l’avenir de notre sécurité\u202f»", "l'avenir de notre sécurité\""),
        ("  trop   d'espaces\tici  ", "trop d'espaces ici"),
        ("e\u0301te\u0301", "été"),  # decomposed accents compose
        ("zero\u200bwidth", "zerowidth"),
    ],
)
def test_normalise_line(line, expected):
    assert normalise_line(line) == expected


# ------------------------------------------------------------------ boilerplate lines


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Jannah Theme License is not validated, Go to the theme options page to validate the license, "
         "You need a single license for each domain name.", "theme_banner"),
        ("Vous pouvez partager cette histoire sur les réseaux sociaux :", "share"),
        ("Partager", "share"),
        ("Partager :", "share"),
        ("Partager sur Facebook Twitter", "share"),
        ("Facebook Twitter WhatsApp Telegram", "share"),
        ("Facebook, Twitter, E-mail, Imprimer", "share"),
        ("Lire la suite Un haut responsable de la Maison Blanche a eu des entretiens non divulgués", "teaser"),
        ("Lire la suite …", "teaser"),
        ("À lire aussi : Les travaux du métro reprennent", "teaser"),
        ("Lire aussi", "teaser"),
        ("Read more: Washington reveals details of talks", "teaser"),
        ("Bouton retour en haut de la page", "back_to_top"),
        ("Back to top button", "back_to_top"),
        ("RTEn", "source_tag"),
        ("RT", "source_tag"),
        ("Source : RT", "source_tag"),
        ("© 2024 Exemple Infos — Tous droits réservés", "copyright"),
        ("Publié le 09/09/2023 à 18h02", "dateline"),
        ("Mis à jour il y a 2 heures", "dateline"),
        ("Toutes les actualités du site n'expriment pas le point de vue du site, mais nous transmettons cette "
         "actualité automatiquement et la traduisons grâce à une technologie programmatique sur le site et non "
         "à partir d'un éditeur humain.", "mt_disclaimer"),
        ("Cet article a été traduit automatiquement.", "mt_disclaimer"),
        ("Traduction automatique – peut contenir des erreurs", "mt_disclaimer"),
        ("Ce contenu est une traduction automatique de l'original.", "mt_disclaimer"),
        ("This article was machine-translated from Russian.", "mt_disclaimer"),
        ("Nouvelles du monde", "section"),
        ("Monde", "section"),
        ("Actualités", "section"),
        ("World News", "section"),
    ],
)
def test_boilerplate_kind(line, kind):
    assert boilerplate_kind(normalise_line(line)) == kind


@pytest.mark.parametrize(
    "line",
    [
        "La traduction automatique a fait des progrès considérables depuis 2016, selon les chercheurs.",
        "Le président a partagé une vidéo sur Facebook, suivie par des millions de personnes.",
        "Publié en 2019, le rapport a fait date.",
        "Related to this, the ministry said it would review the contract.",
        "Le monde entier regarde Ankara.",
        "RT a diffusé l'entretien mardi soir.",
        "Non.",
        "Kirby a noté que ces dernières semaines, le secrétaire à la Défense s'est entretenu avec son homologue.",
    ],
)
def test_real_lines_are_not_boilerplate(line):
    assert boilerplate_kind(normalise_line(line)) is None


# ------------------------------------------------------------------ titles, header, paragraphs


@pytest.mark.parametrize(
    ("title", "expected", "suffix"),
    [
        ("Washington révèle les détails — RT World News", "Washington révèle les détails", "— RT World News"),
        ("Washington révèle les détails - RT", "Washington révèle les détails", "- RT"),
        ("Washington révèle les détails | RT en français", "Washington révèle les détails", "| RT en français"),
        ("Sommet du G20 : Bruxelles sous haute sécurité", "Sommet du G20 : Bruxelles sous haute sécurité", ""),
        ("Guerre en Ukraine - le point sur la situation", "Guerre en Ukraine - le point sur la situation", ""),
        ("RT World News", "RT World News", ""),  # nothing left before it: not a suffix
    ],
)
def test_strip_title_suffix(title, expected, suffix):
    assert strip_title_suffix(title) == (expected, suffix)


BODY = "Le premier paragraphe se termine ici.\n\nLe second aussi."


@pytest.mark.parametrize(
    ("text", "title", "body"),
    [
        (f"Un titre sans point final\n\n{BODY}", "Un titre sans point final", BODY),
        (BODY, "", BODY),  # first line is a sentence
        ("Un titre ?\n\n" + BODY, "", "Un titre ?\n\n" + BODY),  # ends like a sentence: body
        (f"Kirby : « Maintenir le dialogue »\n\n{BODY}", 'Kirby : "Maintenir le dialogue"', BODY),
        (f"« Nous resterons. »\n\n{BODY}", "", f'"Nous resterons."\n\n{BODY}'),  # a quoted sentence
        ("x" * 201 + "\n\n" + BODY, "", "x" * 201 + "\n\n" + BODY),  # too long for a title
        (f"Grand Lyon\nLe pont est ouvert aux piétons\n\n{BODY}", "Le pont est ouvert aux piétons", BODY),
        (f"Monde\n\nLe titre — RT World News\n\n\n{BODY}", "Le titre", BODY),
        ("Seulement une ligne sans point", "", "Seulement une ligne sans point"),  # no body left: not a title
    ],
)
def test_clean_text_title(text, title, body):
    cleaned = clean_text(text)
    assert (cleaned.title, cleaned.text) == (title, body)


@pytest.mark.parametrize(
    ("text", "date", "body"),
    [
        (" date 2022-11 Les espions se sont rencontrés.\n\nIls ont parlé.", "2022-11",
         "Les espions se sont rencontrés.\n\nIls ont parlé."),
        ("date: 2022-11-15\nLes espions se sont rencontrés.", "2022-11-15", "Les espions se sont rencontrés."),
        ("La date 2022-11 a été retenue.", "", "La date 2022-11 a été retenue."),  # not at the start
    ],
)
def test_header_date(text, date, body):
    cleaned = clean_text(text)
    assert (cleaned.date, cleaned.text) == (date, body)


def test_hard_wrapped_lines_rejoin_but_lines_ending_sentences_stay_paragraphs():
    text = "Le maire a annoncé mardi un nouveau\npont sur le Rhône.\nLe chantier commence en mai.\nIl durera un an."
    assert clean_text(text).text == (
        "Le maire a annoncé mardi un nouveau pont sur le Rhône.\n\nLe chantier commence en mai.\n\nIl durera un an."
    )


def test_removed_lines_break_paragraphs():
    text = "Premier paragraphe.\nLire aussi Autre histoire\nSecond paragraphe."
    cleaned = clean_text(text)
    assert cleaned.text == "Premier paragraphe.\n\nSecond paragraphe."
    assert cleaned.removed == ("Lire aussi Autre histoire",)


def test_clean_fixture_removes_each_boilerplate_kind():
    cleaned = clean_text((DATA / "lyon_pont.txt").read_text(encoding="utf-8"))
    assert cleaned.title == "La ville de Lyon inaugure un nouveau pont sur le Rhône"
    assert cleaned.signals == (DECLARED_MT,)
    assert cleaned.text.split("\n\n") == [
        "La ville de Lyon a inauguré mardi un nouveau pont piétonnier sur le Rhône, a annoncé la mairie dans un "
        "communiqué publié dans la matinée.",
        "Selon les services techniques, l'ouvrage de 180 mètres a coûté 32 millions d'euros et doit accueillir "
        "près de 20 000 piétons par jour.",
        '"Ce pont relie enfin les deux rives du quartier", a déclaré le maire aux journalistes présents sur place.',
    ]
    assert set(cleaned.removed) == {
        "Jannah Theme License is not validated, Go to the theme options page to validate the license, You need a "
        "single license for each domain name.",
        "Grand Lyon",
        "Actualités",
        "Partager",
        "Facebook Twitter WhatsApp",
        "Lire aussi Les travaux du métro reprennent à Marseille",
        "Source : RT",
        "RTEn",
        "Cet article a été traduit automatiquement à partir de l’anglais.",
        "Bouton retour en haut de la page",
        "— RT World News",
    }


def test_clean_text_rejects_unsupported_language():
    with pytest.raises(UsageError):
        clean_text("Hola.", lang="es")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("Titre", "Un texte."), ("titre", "Un   texte."), True),
        (("Titre", "Un texte."), ("Titre", "Un autre texte."), False),
        (("", "Un texte."), ("Titre", "Un texte."), False),
    ],
)
def test_digest(a, b, same):
    assert (make_digest(*a) == make_digest(*b)) is same
    assert len(make_digest(*a)) == 16


# ------------------------------------------------------------------ the two real copies


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="needs ../shared/data/examples")
def test_real_copies_clean_to_the_same_body():
    plain, republished = (clean_text(path.read_text(encoding="utf-8")) for path in sorted(EXAMPLES.glob("0*.txt")))
    assert plain.text == republished.text
    assert plain.date == "2022-11" and plain.title == "" and plain.signals == ()
    assert republished.title == (
        "Washington révèle les détails des pourparlers de haut niveau entre les États-Unis et la Russie"
    )
    assert republished.signals == (DECLARED_MT,)
    assert "— RT World News" in republished.removed
    assert not any(mark in plain.text for mark in "«»“”’")
    assert "Lire la suite" not in plain.text and "RTEn" not in republished.text
    assert plain.text.count("\n\n") == 7  # eight paragraphs, the teaser gone


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="needs ../shared/data/examples")
def test_real_copies_load_as_french_articles():
    plain, republished = load(EXAMPLES)
    assert (plain.id, plain.date, plain.lang) == ("000_a4a6c44a581a7d26", "2022-11", "fr")
    assert republished.signals == (DECLARED_MT,)
    assert plain.text == republished.text and plain.digest != republished.digest  # titles differ


# ------------------------------------------------------------------ loading: good inputs


def test_load_txt_article():
    article = only(load(DATA / "lyon_pont.txt"))
    assert isinstance(article, Article)
    assert article.id == "lyon_pont" and article.origin == str(DATA / "lyon_pont.txt")
    assert article.full_text == f"{article.title}\n\n{article.text}"
    assert article.digest == make_digest(article.title, article.text)


def test_full_text_without_title_is_the_body(tmp_path):
    article = only(load(write(tmp_path, "untitled.txt", FRENCH)))
    assert article.title == "" and article.full_text == article.text == FRENCH


def test_folder_is_read_recursively_in_sorted_order(tmp_path):
    write(tmp_path, "b.txt", FRENCH)
    (tmp_path / "a").mkdir()
    write(tmp_path / "a", "z.txt", FRENCH.replace("Lyon", "Paris"))
    write(tmp_path, ".hidden.txt", "ignored")
    write(tmp_path, "notes.md", "ignored")
    assert [item.id for item in load(tmp_path)] == ["z", "b"]


def test_english_sources_load_with_lang_en():
    article = only(load(DATA / "english.txt", lang="en"))
    assert isinstance(article, Article)
    assert (article.lang, article.title) == ("en", "City council approves new bridge")


def test_jsonl_records_keep_their_fields_and_go_on_after_bad_lines():
    items = load(DATA / "records.jsonl")
    articles = {item.id: item for item in items if isinstance(item, Article)}
    errors = {item.item_id: item for item in items if isinstance(item, ItemError)}
    assert set(articles) == {"rec-1", "42", "records.jsonl:9"}
    first = articles["rec-1"]
    assert (first.title, first.url, first.date) == ("Le pont de Lyon ouvre", "https://exemple.test/pont", "2024-02-13")
    assert first.origin == f"{DATA / 'records.jsonl'}:1"
    assert {key: error.code for key, error in errors.items()} == {
        "records.jsonl:2": "malformed_record",  # bad JSON
        "records.jsonl:3": "malformed_record",  # a list, not an object
        "rec-4": "malformed_record",  # no text
        "records.jsonl:7": "malformed_record",  # id is a list
        "rec-6": "empty",  # blank text
    }
    assert errors["records.jsonl:2"].origin == f"{DATA / 'records.jsonl'}:2"
    assert all(error.stage == "load" for error in errors.values())


def test_csv_rows_with_quoted_newlines():
    items = load(DATA / "records.csv")
    first = items[0]
    assert isinstance(first, Article) and first.id == "csv-1"
    assert first.text.split("\n\n")[1] == '"Ce pont relie enfin les deux rives", a déclaré le maire.'
    assert (first.url, first.date) == ("https://exemple.test/pont", "2024-02-13")
    assert first.origin == f"{DATA / 'records.csv'}:2"
    assert items[1].id == "csv-2" and items[1].origin.endswith("records.csv:5")
    assert [(item.item_id, item.code) for item in items[2:]] == [("csv-3", "malformed_record"), ("csv-4", "empty")]


def test_csv_without_text_column_is_one_error():
    error = only(load(DATA / "no_text_column.csv"))
    assert isinstance(error, ItemError) and error.code == "malformed_record"
    assert "no 'text' column" in error.message and "id, title, body" in error.message


# ------------------------------------------------------------------ loading: bad inputs


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("empty.txt", "empty", "file is empty"),
        ("blank.txt", "empty", "empty"),
        ("binary.txt", "binary", "binary"),
        ("latin1.txt", "bad_encoding", "byte 0xe9 at offset 6"),
        ("utf16.txt", "bad_encoding", "UTF-16"),
        ("english.txt", "wrong_language", "reads as English"),
        ("german.txt", "wrong_language", "neither French nor English"),
    ],
)
def test_bad_file_is_one_item_error(name, code, words):
    error = only(load(DATA / name))
    assert isinstance(error, ItemError)
    assert (error.item_id, error.stage, error.code) == (Path(name).stem, "load", code)
    assert words in error.message
    assert error.origin == str(DATA / name)


def test_french_text_loaded_as_english_source_is_wrong_language():
    error = only(load(DATA / "lyon_pont.txt", lang="en"))
    assert error.code == "wrong_language" and "expected English" in error.message and "as French" in error.message


def test_missing_path_is_an_item_error(tmp_path):
    items = load(tmp_path / "nope.txt", DATA / "lyon_pont.txt")
    assert items[0].code == "unreadable" and "no such file" in items[0].message
    assert isinstance(items[1], Article)


def test_unsupported_file_type_is_an_item_error(tmp_path):
    error = only(load(write(tmp_path, "article.pdf", b"%PDF-1.4")))
    assert error.code == "unreadable" and ".pdf" in error.message


def test_only_boilerplate_is_empty(tmp_path):
    path = write(tmp_path, "banner.txt", "Nouvelles du monde\nPartager\nBouton retour en haut de la page\n")
    error = only(load(path))
    assert error.code == "empty" and "after removing boilerplate" in error.message


def test_oversized_txt_is_rejected_without_reading(tmp_path, monkeypatch):
    path = tmp_path / "dump.txt"
    with path.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024)  # sparse: 10 MB on paper, nothing to write
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("a too-large file was read"))
    error = only(load(path))
    assert error.code == "too_large" and "10.0 MB" in error.message


def test_txt_just_over_the_limit_is_too_large(tmp_path):
    path = write(tmp_path, "big.txt", (FRENCH + "\n\n") * (MAX_ARTICLE_BYTES // len(FRENCH.encode()) + 1))
    assert only(load(path)).code == "too_large"


def test_oversized_record_is_rejected_and_others_go_on(tmp_path):
    lines = [
        json.dumps({"id": "big", "text": "a " * (MAX_ARTICLE_BYTES // 2 + 1)}),
        json.dumps({"id": "ok", "text": FRENCH}),
    ]
    items = load(write(tmp_path, "r.jsonl", "\n".join(lines)))
    assert [(getattr(i, "item_id", None) or i.id, type(i).__name__) for i in items] == [
        ("big", "ItemError"), ("ok", "Article")
    ]
    assert items[0].code == "too_large"


def test_bad_utf8_line_in_jsonl_names_the_file_offset(tmp_path):
    good = json.dumps({"id": "ok", "text": FRENCH}).encode() + b"\n"
    bad = b'{"id": "bad", "text": "caf\xe9"}\n'
    items = load(write(tmp_path, "r.jsonl", good + bad))
    assert isinstance(items[0], Article)
    assert items[1].code == "bad_encoding"
    offset = len(good) + bad.index(b"\xe9")
    assert f"offset {offset}" in items[1].message
    assert items[1].origin.endswith("r.jsonl:2")


def test_bad_utf8_in_csv_is_one_error(tmp_path):
    error = only(load(write(tmp_path, "r.csv", b"id,text\n1,caf\xe9\n")))
    assert error.code == "bad_encoding" and "offset 13" in error.message


def test_utf8_bom_is_stripped(tmp_path):
    article = only(load(write(tmp_path, "bom.txt", b"\xef\xbb\xbf" + FRENCH.encode())))
    assert isinstance(article, Article) and article.text == FRENCH


def test_duplicate_id_is_an_error_for_the_second_occurrence(tmp_path):
    write(tmp_path, "a.jsonl", json.dumps({"id": "same", "text": FRENCH}) + "\n")
    write(tmp_path, "b.csv", f'id,text\nsame,"{FRENCH}"\n')
    first, second = load(tmp_path)
    assert isinstance(first, Article) and first.id == "same"
    assert (second.item_id, second.code) == ("same", "duplicate_id")
    assert str(tmp_path / "a.jsonl") in second.message and second.origin == f"{tmp_path / 'b.csv'}:2"


def test_a_single_path_is_not_iterated_by_character():
    assert isinstance(only(list(load_articles(str(DATA / "lyon_pont.txt")))), Article)


def test_unsupported_lang_is_a_usage_error_at_once():
    with pytest.raises(UsageError):
        load_articles([DATA], lang="de")


def test_short_french_text_of_unknown_language_is_accepted(tmp_path):
    article = only(load(write(tmp_path, "brief.txt", "Kirby, Naryshkin, Burns.")))
    assert isinstance(article, Article)


# ------------------------------------------------------------------ HTML (trafilatura)


@pytest.fixture
def trafilatura_available():
    try:
        import trafilatura  # noqa: F401
    except ImportError as exc:  # e.g. lxml without its html_clean extra
        pytest.skip(f"trafilatura cannot be imported: {exc}")


def test_html_page(trafilatura_available):
    article = only(load(DATA / "page_fr.html"))
    assert isinstance(article, Article)
    assert article.title == "Les viticulteurs bordelais arrachent des vignes"
    assert (article.url, article.date) == ("https://exemple.test/2024/02/vignes", "2024-02-12")
    assert article.signals == (DECLARED_MT,)  # the disclaimer sits in the footer the extractor drops
    assert article.text.startswith("Des centaines de viticulteurs")  # the repeated <h1> is gone
    assert "Lire la suite" not in article.text and "Lire la suite" in article.removed[0]


def test_empty_html_page(trafilatura_available, tmp_path):
    error = only(load(write(tmp_path, "blank.html", "<html><body><nav>Accueil</nav></body></html>")))
    assert error.code == "empty"
