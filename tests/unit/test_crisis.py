import pytest

from core.domain.aliases import ADJECTIVES, ANIMALS, new_alias
from core.domain.crisis import contains_crisis_language


@pytest.mark.parametrize(
    "text",
    [
        "Honestly I want to die some days",
        "I've been thinking about SUICIDE",
        "i keep hurting myself",
        "I can\u2019t go on like this",  # typographic apostrophe
        "self-harm has come back",
    ],
)
def test_english_crisis_phrases_are_found(text):
    assert contains_crisis_language(text, "en-GB")


@pytest.mark.parametrize(
    "text",
    [
        "Deadline stress is killing my sleep",
        "my manager wants to die on this hill",  # idiom: 'wants to die' is not 'want to die'
        "presuicidal research paper",  # inside a word is no match
        "",
    ],
)
def test_ordinary_worries_are_not_flagged(text):
    assert not contains_crisis_language(text, "en")


def test_other_languages_and_accents():
    assert contains_crisis_language("A veces quiero morir", "es-MX")
    assert contains_crisis_language("j'ai envie de mourir", "fr")
    assert contains_crisis_language("Ich denke an Selbstmord", "de-AT")
    # English stays on for every locale: people mix languages.
    assert contains_crisis_language("I want to die", "es")


def test_program_phrases_extend_the_list():
    assert not contains_crisis_language("I feel like disappearing forever", "en")
    assert contains_crisis_language(
        "I feel like disappearing forever", "en", extra=["disappearing forever"]
    )


def test_unknown_locale_falls_back_to_english():
    assert contains_crisis_language("suicidal thoughts", "xx")


def test_aliases_are_adjective_animal_and_avoid_taken_ones():
    alias = new_alias()
    adjective, animal = alias.split(" ")
    assert adjective in ADJECTIVES and animal in ANIMALS
    every = {f"{a} {b}" for a in ADJECTIVES for b in ANIMALS}
    assert new_alias(frozenset(every)) not in every
