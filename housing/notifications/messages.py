"""A notification as words in its reader's language: a subject, a text and the link's URL.

Params are stored as JSON; their names say how to show them in a language: `month` is a
month, `*_minor` with `currency` an amount (shown under the name without `_minor`), an ISO
date or an ISO instant a day or a moment on the city's clock; `WORDS` (a status, a service,
an author, a category) hold an English word of the pages' catalogs and are shown translated.
Anything else is shown as stored. A field the text names but the params lack shows as "?" rather than failing a
whole batch of sends.
"""

import string
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from housing import i18n
from housing.notifications.kinds import KINDS
from housing.notifications.kinds import kind as kind_named
from housing.notifications.models import Notification
from housing.settings import Settings


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    url: str


WORDS = frozenset({"status", "service", "author", "category"})


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _shown(name: str, value: Any, params: dict[str, Any], language: str, timezone: str) -> tuple[str, str]:
    if name.endswith("_minor") and "currency" in params:
        return name.removesuffix("_minor"), i18n.money(value, params["currency"], language)
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:
            if len(value) == 10:
                parsed = date.fromisoformat(value)
                return name, i18n.month(parsed, language) if name == "month" else i18n.day(parsed, language)
            return name, i18n.moment(datetime.fromisoformat(value), language, timezone)
        except ValueError:
            pass
    return name, str(value)


def render(
    *, kind: str, params: dict[str, Any], link: str, language: str, site_url: str, timezone: str
) -> Rendered:
    spec = kind_named(kind)
    translations = i18n.translations(language)
    fields = _Lenient(_shown(name, value, params, language, timezone) for name, value in params.items())
    for name in WORDS & fields.keys():
        if fields[name]:  # gettext("") is the catalog's header
            fields[name] = translations.gettext(fields[name])
    formatter = string.Formatter()
    subject = formatter.vformat(translations.gettext(spec.title), (), fields)
    text = formatter.vformat(translations.gettext(spec.body), (), fields)
    url = f"{site_url.rstrip('/')}{link}" if link.startswith("/") else link
    return Rendered(subject=" ".join(subject.split())[:200], text=text, url=url)


def words_of(notice: Notification, language: str, settings: Settings) -> Rendered:
    """A stored notification in a language; a kind since retired from the catalogue shows by its
    name (and still links), rather than failing an inbox or a batch of sends."""
    if notice.kind not in KINDS:
        return Rendered(subject=notice.kind, text="", url=notice.link)
    return render(
        kind=notice.kind,
        params=notice.params,
        link=notice.link,
        language=language,
        site_url=settings.notify.site_url,
        timezone=settings.timezone,
    )
