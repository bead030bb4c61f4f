"""The words every page carries for its scripts (``page_words``) are what
``script_words() | tojson`` writes, in the reader's language, made once per language and
catalogue: a catalogue read again (a translator's preview) gives them again."""

from __future__ import annotations

import pytest

from api.pages.common import TEMPLATES, page_words
from api.pages.offline import OFFLINE_WORDS
from forms import i18n


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_page_words_are_the_script_words_as_json(lang: str) -> None:
    with i18n.use_language(lang):
        for more, source in (((), "{{ script_words() | tojson }}"),
                             ((OFFLINE_WORDS,), "{{ script_words(more) | tojson }}")):
            expected = TEMPLATES.env.from_string(source).render(more=OFFLINE_WORDS)
            assert str(page_words(*more)) == expected
            assert page_words(*more) is page_words(*more)  # made once
    with i18n.use_language("fr"):
        assert '"lang": "fr"' in page_words() and "Recommencer" in page_words()


def test_a_catalogue_read_again_gives_the_words_again() -> None:
    with i18n.use_language("fr"):
        before = page_words()
        i18n.reload()
        after = page_words()
    assert after is not before and after == before
