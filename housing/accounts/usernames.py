"""The one normal form of a user name, used wherever a name is stored, looked up or counted.

A user name is compared as Unicode's compatibility caseless match: NFKC, then case folding,
then NFKC again (case folding can undo a normal form), with the white space around it
stripped. So "Admin", " admin ", "ADMIN" and "admin" in full-width letters are all "admin": one
account, and one counter of failed logins (the throttle keys on this form too, so padding or
recasing a name buys no extra guesses). Every name is stored in this form; a new name that
differs from an existing one only by it is a duplicate.

The form is idempotent (normal_username(normal_username(x)) == normal_username(x)) for every
code point, and names are then limited to USERNAME_PATTERN, which it leaves unchanged: the
names stored before this rule (the API's pattern, lowered) read the same under it.
"""

import re
import unicodedata

USERNAME_PATTERN = r"^[a-z0-9_.@+-]{3,150}$"
_USERNAME = re.compile(USERNAME_PATTERN)


def normal_username(name: str) -> str:
    """The form a user name is stored, looked up and throttled under."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return folded.strip()


def is_valid_username(normal: str) -> bool:
    """3-150 of a-z, digits and _ . @ + - (after normal_username)."""
    return _USERNAME.fullmatch(normal) is not None
