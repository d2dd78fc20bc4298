"""The pages' languages: negotiation, complete catalogs, and Babel's money and dates."""

import re
from datetime import UTC, date, datetime

import pytest
from babel.messages.pofile import read_po

from housing import i18n

# `%(x)s` in pages and messages; `{x}` in notification texts (housing/notifications/kinds.py).
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


@pytest.mark.parametrize(
    ("user", "cookie", "header", "expected"),
    [
        ("ru", "en", "en-US", "ru"),  # the account's choice wins
        (None, "en", "ru", "en"),  # then the visitor's cookie
        (None, None, "ru-RU,ru;q=0.9,en;q=0.8", "ru"),  # then the browser
        (None, None, "de-DE,en;q=0.5", "en"),
        (None, None, "de-DE", "uz"),  # nothing we speak: Uzbek
        (None, "xx", None, "uz"),  # a forged cookie is ignored
    ],
)
def test_the_language_is_the_users_then_the_cookies_then_the_browsers(user, cookie, header, expected):
    assert i18n.negotiate(user, cookie, header) == expected


@pytest.mark.parametrize("language", ["uz", "ru"])
def test_every_string_is_translated_with_its_placeholders(language):
    template = read_po((i18n.LOCALE_DIR / "messages.pot").open("rb"))
    catalog = read_po((i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb"))
    translated = {m.id: m.string for m in catalog if m.id}

    def filled(msgstr) -> bool:
        return all(msgstr) if isinstance(msgstr, tuple) else bool(msgstr)

    assert [m.id for m in template if m.id and not filled(translated.get(m.id))] == []
    for msgid, msgstr in translated.items():
        if isinstance(msgid, tuple):  # plural forms: each uses the placeholders the source's forms have
            allowed = set(PLACEHOLDER.findall(" ".join(msgid)))
            assert all(set(PLACEHOLDER.findall(form)) <= allowed for form in msgstr), msgid
            assert set(PLACEHOLDER.findall(" ".join(msgstr))) == allowed, msgid
        else:
            assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(msgid)), msgid


def test_the_catalog_is_read_from_the_po_file():
    assert i18n.translations("ru").gettext("My meters") == "Мои счётчики"
    assert i18n.translations("uz").gettext("My meters") == "Mening hisoblagichlarim"
    assert i18n.translations("en").gettext("My meters") == "My meters"


def test_money_is_written_the_way_each_language_writes_it():
    assert i18n.money(51_000_000, "UZS", "uz") == "510\xa0000,00\xa0so\u02bbm"
    assert i18n.money(51_000_000, "UZS", "ru") == "510\xa0000,00\xa0UZS"
    assert i18n.money(51_000_000, "UZS", "en") == "UZS510,000.00"
    assert i18n.money("60000.0000", "UZS", "en") == "UZS600.00"  # a tariff's price per unit


def test_dates_and_times_are_local_to_tashkent():
    late_evening_utc = datetime(2026, 10, 31, 20, 30, tzinfo=UTC)  # 1 November, 01:30 in Tashkent

    assert i18n.moment(late_evening_utc, "en", "Asia/Tashkent") == "Nov 1, 2026, 1:30:00\u202fAM"
    assert i18n.month(date(2026, 10, 1), "ru") == "октябрь 2026"
    assert i18n.day(date(2026, 11, 15), "uz") == "15-noyabr, 2026"


def test_the_command_line_prints_tiyin_exactly_without_floats():
    # The CLI prints amounts through plain_money.
    assert i18n.plain_money(51_000_000, "UZS") == "510,000.00 UZS"
    assert i18n.plain_money(-250, "UZS") == "-2.50 UZS"
    # Past 2**53 a float would drop the last tiyin.
    assert i18n.plain_money(9_007_199_254_740_993, "UZS") == "90,071,992,547,409.93 UZS"
