"""The pages' languages: which one a request gets, its Babel catalog, and money and dates in it.

Uzbek (Latin) is the default; Russian and English are offered. A signed-in user's choice is
stored on the account, an anonymous visitor's in a cookie; without either the browser's
Accept-Language decides. The catalogs are the .po files under housing/locale, compiled in
memory once per process (no .mo build step, so a fresh clone works as it is).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

LANGUAGES = ("uz", "ru", "en")
DEFAULT_LANGUAGE = "uz"
LANGUAGE_NAMES = {
    "uz": "O\u02bbzbekcha",  # Uzbek writes the letter with U+02BB
    "ru": "Русский",
    "en": "English",
}
LANGUAGE_COOKIE = "housing_language"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Babel's "uz" is Uzbek in Latin script, the official one; the Cyrillic one is "uz_Cyrl".
BABEL_LOCALES = {"uz": "uz_Latn", "ru": "ru", "en": "en"}


def negotiate(user_language: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page language: the account's setting, else the cookie, else the browser's, else Uzbek."""
    for chosen in (user_language, cookie):
        if chosen in LANGUAGES:
            return chosen
    if accept_language:
        best = parse_accept_header(accept_language, LanguageAccept).best_match(LANGUAGES)
        if best:
            return best
    return DEFAULT_LANGUAGE


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of a language; English is the source text and needs none."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language not in LANGUAGES or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def babel_locale(language: str) -> Locale:
    return Locale.parse(BABEL_LOCALES.get(language, BABEL_LOCALES[DEFAULT_LANGUAGE]))


def money(minor: int | Decimal | str, currency: str, language: str) -> str:
    """Minor units (tiyin; a price per unit may have decimals) as the locale writes the amount.

    51000000 UZS is "510 000,00 so'm" in Uzbek (Babel writes the letter as U+02BB) and
    "UZS 510,000.00" in English.
    """
    # Decimal keeps tiyin exact; every currency the platform bills has two decimals.
    return format_currency(Decimal(minor).scaleb(-2), currency, locale=babel_locale(language))


def plain_money(minor: int | Decimal | str, currency: str) -> str:
    """An amount for a message in no particular language (an API error, a log line, the CLI):
    "999,999.99 UZS". Tiyin stay exact: a price per unit keeps up to two more decimals."""
    return f"{format_decimal(Decimal(minor).scaleb(-2), format='#,##0.00##', locale='en')} {currency}"


def number(value: Decimal | int | str, language: str, pattern: str | None = None) -> str:
    """A quantity as the locale writes it; `pattern` (Babel's, e.g. "#,##0.#") rounds for a label."""
    return format_decimal(value, format=pattern, locale=babel_locale(language))


def day(value: date, language: str, form: str = "long") -> str:
    return format_date(value, form, locale=babel_locale(language))


def month(value: date, language: str) -> str:
    """A month and its year standing alone: "Oktabr 2026", "октябрь 2026"."""
    return format_date(value, "LLLL yyyy", locale=babel_locale(language))


def short_month(value: date, language: str) -> str:
    return format_date(value, "LLL", locale=babel_locale(language))


def moment(value: datetime, language: str, timezone: str) -> str:
    """A UTC instant shown on the city's clock."""
    return format_datetime(value, "medium", tzinfo=ZoneInfo(timezone), locale=babel_locale(language))


def duration(value: timedelta, language: str) -> str:
    """A length of time as the locale says it, rounded to its largest unit: "3 hours", "2 kun"."""
    return format_timedelta(abs(value), threshold=1.5, locale=babel_locale(language))
