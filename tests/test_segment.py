"""segment: sentence splitting for French and English, token-bounded chunks, rejoining translations."""

from __future__ import annotations

import pytest

from provenance.errors import UsageError
from provenance.segment import (
    RESERVED_TOKENS,
    Segment,
    estimate_tokens,
    rejoin,
    segment_text,
    split_sentence_spans,
    split_sentences,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("M. Macron a parlé. Il est parti.", ["M. Macron a parlé.", "Il est parti."]),
        (
            "MM. Dupont et Durand sont arrivés. Mme Martin aussi.",
            ["MM. Dupont et Durand sont arrivés.", "Mme Martin aussi."],
        ),
        (
            "Le Dr. Morel et le Pr. Lenoir ont signé. Ils partent.",
            ["Le Dr. Morel et le Pr. Lenoir ont signé.", "Ils partent."],
        ),
        ("Ils ont visité St. Malo hier. Puis Rennes.", ["Ils ont visité St. Malo hier.", "Puis Rennes."]),
        (
            "J. Biden a rencontré V. Poutine. Rien n'a filtré.",
            ["J. Biden a rencontré V. Poutine.", "Rien n'a filtré."],
        ),
        (
            "J.-P. Sartre est né en 1905. Il est mort en 1980.",
            ["J.-P. Sartre est né en 1905.", "Il est mort en 1980."],
        ),
        ("Il est mort en 50 av. J.-C. à Rome. Voilà.", ["Il est mort en 50 av. J.-C. à Rome.", "Voilà."]),
        ("Des pommes, des poires, etc. Le marché ferme.", ["Des pommes, des poires, etc.", "Le marché ferme."]),
        ("Qui ? Personne ! Vraiment.", ["Qui ?", "Personne !", "Vraiment."]),
        ("Il hésita… puis partit. Il revint… Puis rien.", ["Il hésita… puis partit.", "Il revint…", "Puis rien."]),
        ("Il attendit... Rien ne vint.", ["Il attendit...", "Rien ne vint."]),
        (
            "Il est parti en 2022. 3 000 personnes sont restées.",
            ["Il est parti en 2022.", "3 000 personnes sont restées."],
        ),
    ],
)
def test_french_abbreviations_and_punctuation(text, expected):
    assert split_sentences(text, "fr") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.S. Senate voted. It passed.", ["The U.S. Senate voted.", "It passed."]),
        ("He flew to the U.S. The next day he left.", ["He flew to the U.S.", "The next day he left."]),
        ("The U.K. and the U.N. agreed. Talks end.", ["The U.K. and the U.N. agreed.", "Talks end."]),
        ("Mr. Smith met Mrs. Jones. They talked.", ["Mr. Smith met Mrs. Jones.", "They talked."]),
        ("Dr. Lee lives at No. 10 Main St. in Boston. Hi.", ["Dr. Lee lives at No. 10 Main St. in Boston.", "Hi."]),
        ("The vote is on Jan. 5. It is final.", ["The vote is on Jan. 5.", "It is final."]),
        ("J. Biden spoke. He left.", ["J. Biden spoke.", "He left."]),
        ("He said no. No one answered.", ["He said no.", "No one answered."]),  # "No." before a word ends
    ],
)
def test_english_abbreviations(text, expected):
    assert split_sentences(text, "en") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "La croissance a atteint 3,5 % en 2022. Le taux était de 3.5.",
            ["La croissance a atteint 3,5 % en 2022.", "Le taux était de 3.5."],
        ),
        ("Il a payé 1.250,75 euros. Puis 2.5 de plus.", ["Il a payé 1.250,75 euros.", "Puis 2.5 de plus."]),
        ("Version 2.0.1 est sortie. Elle corrige tout.", ["Version 2.0.1 est sortie.", "Elle corrige tout."]),
    ],
)
def test_decimals_do_not_split(text, expected):
    assert split_sentences(text, "fr") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("« Je ne partirai pas. » Il a souri.", ["« Je ne partirai pas. »", "Il a souri."]),
        ("«\u00a0Je ne partirai pas.\u00a0» Il a souri.", ["«\u00a0Je ne partirai pas.\u00a0»", "Il a souri."]),
        ("« Vraiment ? » demanda-t-elle. Oui.", ["« Vraiment ? » demanda-t-elle.", "Oui."]),
        ("“Je ne partirai pas.” Il a souri.", ["“Je ne partirai pas.”", "Il a souri."]),
        ('"... non." Il a dit.', ['"... non."', "Il a dit."]),
        ('Il a dit. "Nous partons." Puis rien.', ["Il a dit.", '"Nous partons."', "Puis rien."]),
        ("Il a dit « non ». Puis il est parti.", ["Il a dit « non ».", "Puis il est parti."]),
        ("(Voir ci-dessous.) La suite.", ["(Voir ci-dessous.)", "La suite."]),
    ],
)
def test_sentences_ending_inside_quotes(text, expected):
    assert split_sentences(text, "fr") == expected


def test_english_quotes():
    assert split_sentences('"We will not leave." He smiled. “Never,” he said.', "en") == [
        '"We will not leave."', "He smiled.", "“Never,” he said."
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Un titre sans point\n\nLe corps commence ici.", ["Un titre sans point", "Le corps commence ici."]),
        ("Une ligne\nune autre", ["Une ligne", "une autre"]),  # every line break splits
        ("  \n\n  Espaces.  \n\n", ["Espaces."]),
        ("", []),
    ],
)
def test_paragraph_breaks_always_split(text, expected):
    assert split_sentences(text, "fr") == expected


def test_spans_point_into_the_text():
    text = "  Titre\n\nM. Dupont a parlé.   Il est parti.\n"
    spans = split_sentence_spans(text, "fr")
    assert [text[a:b] for a, b in spans] == ["Titre", "M. Dupont a parlé.", "Il est parti."]


def test_unsupported_language():
    with pytest.raises(UsageError):
        split_sentences("Hola.", "es")


# ------------------------------------------------------------------ segments and chunks


def one_token_per_char(text: str) -> int:
    return len(text)


def test_short_sentences_are_one_segment_each():
    text = "Titre\n\nM. Dupont a parlé. Il est parti."
    segments = segment_text("a1", text, "fr", count_tokens=one_token_per_char, max_tokens=100)
    assert [(s.index, s.chunk, s.text) for s in segments] == [
        (0, 0, "Titre"), (1, 0, "M. Dupont a parlé."), (2, 0, "Il est parti.")
    ]
    assert all(text[s.start:s.end] == s.text and s.article_id == "a1" for s in segments)


LONG = (
    "Le conseil municipal a voté mardi soir, après un débat de plusieurs heures, un budget de 32 millions "
    "d'euros pour le nouveau pont; les travaux, qui doivent commencer au printemps, dureront deux ans: la "
    "circulation sera déviée par le quai nord, puis par le quai sud, selon un calendrier que la mairie "
    "publiera dans les prochaines semaines sur son site internet."
)


@pytest.mark.parametrize("max_tokens", [20, 40, 64, 100, 200])
def test_long_sentence_is_cut_into_chunks_within_the_limit_losing_no_word(max_tokens):
    segments = segment_text("a1", "Court. " + LONG, "fr", count_tokens=one_token_per_char, max_tokens=max_tokens)
    chunks = [s for s in segments if s.index == 1]
    assert len(chunks) > 1
    assert [s.chunk for s in chunks] == list(range(len(chunks)))
    assert all(len(s.text) <= max_tokens - RESERVED_TOKENS for s in chunks)
    assert " ".join(s.text for s in chunks).split() == LONG.split()
    text = "Court. " + LONG
    assert all(text[s.start:s.end] == s.text for s in chunks)


def test_cuts_prefer_semicolons_then_commas():
    segments = segment_text("a1", LONG, "fr", count_tokens=one_token_per_char, max_tokens=140)
    assert segments[0].text.endswith("pour le nouveau pont;")
    assert all(s.text[-1] in ";,:." for s in segments)


def test_a_single_word_longer_than_the_limit_is_cut_by_characters():
    word = "https://exemple.test/" + "x" * 50
    segments = segment_text("a1", f"Voir {word} maintenant.", "fr", count_tokens=one_token_per_char, max_tokens=22)
    assert all(len(s.text) <= 20 for s in segments)
    assert "".join(s.text for s in segments).replace(" ", "") == f"Voir{word}maintenant."


def test_without_a_tokenizer_tokens_are_estimated_conservatively():
    sentence = " ".join(["mot"] * 300) + "."
    assert estimate_tokens(sentence) == 600
    segments = segment_text("a1", sentence, "fr", max_tokens=512)
    assert len(segments) == 2
    assert all(estimate_tokens(s.text) <= 510 for s in segments)


def test_max_tokens_must_leave_room():
    with pytest.raises(UsageError):
        segment_text("a1", "Court.", "fr", count_tokens=one_token_per_char, max_tokens=RESERVED_TOKENS)


# ------------------------------------------------------------------ rejoin


def test_rejoin_orders_sentences_and_chunks():
    segments = [
        Segment("a", 1, "deux-b", 0, 0, chunk=1),
        Segment("a", 0, "un", 0, 0),
        Segment("a", 1, "deux-a", 0, 0, chunk=0),
        Segment("a", 2, "trois", 0, 0),
    ]
    texts = ["two-b ", "one", " two-a", "three"]
    assert rejoin(segments, texts) == ["one", "two-a two-b", "three"]


def test_rejoin_round_trips_segment_text():
    text = "Court. " + LONG + "\n\nFin."
    segments = segment_text("a1", text, "fr", count_tokens=one_token_per_char, max_tokens=50)
    assert rejoin(segments, [s.text for s in segments]) == split_sentences(text, "fr")


def test_rejoin_needs_one_text_per_segment():
    with pytest.raises(ValueError):
        rejoin([Segment("a", 0, "un", 0, 2)], [])
