"""Which of an announcement's languages a reader sees: theirs if it was written in it, else another.

The fallback order follows the city: Uzbek, then Russian, then English. Pure: no database.
"""

from collections.abc import Mapping
from typing import TypeVar

WRITTEN_IN = ("uz", "ru", "en")  # the pages' languages, in the city's order of preference

T = TypeVar("T")


def pick(texts: Mapping[str, T], language: str | None) -> tuple[str, T]:
    """The reader's language and its text, or the first language present in `WRITTEN_IN` order.

    `texts` must hold at least one language (an announcement is never posted without text).
    """
    if language in texts:
        return language, texts[language]
    for candidate in WRITTEN_IN:
        if candidate in texts:
            return candidate, texts[candidate]
    raise ValueError("an announcement has text in at least one language")
