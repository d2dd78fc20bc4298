"""Every notification kind's title and body has its Uzbek and Russian text, with the same fields,
in the language's catalog (so `make messages` found them through their `N_` marker)."""

import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from housing.notifications.kinds import KINDS

LOCALE = Path(__file__).resolve().parents[2] / "housing" / "locale"


def _translations(language: str) -> dict[str, str]:
    with (LOCALE / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return {m.id: m.string for m in read_po(po, locale=language) if m.id and m.string}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", ["uz", "ru"])
def test_every_kinds_texts_are_translated_with_the_same_fields(language):
    translated = _translations(language)
    texts = {text for kind in KINDS.values() for text in (kind.title, kind.body)}
    missing = sorted(text for text in texts if text not in translated)
    assert missing == []
    changed = sorted(text for text in texts if _fields(translated[text]) != _fields(text))
    assert changed == []
