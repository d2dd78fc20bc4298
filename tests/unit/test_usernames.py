"""The normal form of a user name (housing.accounts.usernames)."""

import sys
import unicodedata

import pytest

from housing.accounts.ratelimit import LoginThrottle
from housing.accounts.usernames import is_valid_username, normal_username


@pytest.mark.parametrize(
    "spelling",
    [
        "admin",
        "Admin",
        " admin ",
        "ADMIN\t",
        "\uff41\uff44\uff4d\uff49\uff4e",
        "\u3000admin\u00a0",
        "ad\uff4din",
    ],
)
def test_spellings_of_one_name_share_one_normal_form(spelling):
    assert normal_username(spelling) == "admin"


def test_case_folding_goes_further_than_lower_case():
    assert normal_username("STRASSE") == normal_username("stra\u00dfe") == "strasse"
    assert normal_username("\ufb01le") == "file"  # the fi ligature


def test_the_normal_form_is_idempotent_for_every_code_point():
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        once = normal_username(chr(code) + "x")
        assert normal_username(once) == once, hex(code)


def test_names_stored_before_the_rule_read_the_same():
    """The API accepted [A-Za-z0-9_.@+-] and stored it lowered: that form is already normal."""
    allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@+-"
    for char in allowed:
        assert normal_username(char.lower()) == char.lower()
    assert is_valid_username(normal_username("Open311-Gateway_2@city.uz"))


@pytest.mark.parametrize(
    "name", ["", "ab", "a b", "a\u200bb", "\u0431\u043e\u0441\u0441", "x" * 151, "boss\n"]
)
def test_names_outside_the_rule(name):
    assert not is_valid_username(name)


def test_the_throttle_counts_every_spelling_under_one_key():
    throttle = LoginThrottle("3/minute", "memory://")
    for spelling in ("Boss", " boss", unicodedata.normalize("NFKD", "\uff42oss")):
        assert throttle.allowed(spelling, "10.0.0.1")
        throttle.record_failure(spelling, "10.0.0.1")
    assert not throttle.allowed("BOSS", "10.0.0.1")
    assert throttle.allowed("boss", "10.0.0.2")
