"""How an invoice line's quantity was obtained, in words, in the reader's language: one place for the
JSON API (`InvoiceLineRead.source_text`) and the invoice page.

The words say exactly what happened: metered, metered with an estimated boundary (and for
how many hours), the meter's average, the norm, a share of the building's meter, or a
recalculation naming its months. Numbers are rounded for people (hours to one decimal).
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup

from housing import i18n

Gettext = Callable[[str], str]


def source_text(source: str, explanation: dict[str, Any] | None, language: str) -> Markup:
    """The line's source (`QuantitySource`) and its explanation as a phrase in `language`.

    Markup: the catalog's words as they are, the figures put into them escaped, so that a
    page shows it as written and the API gets the same text.
    """
    translations = i18n.translations(language)

    def _(message: str) -> Markup:
        return Markup(translations.gettext(message))  # noqa: S704 - our own catalog, not input

    why = explanation or {}
    if source == "metered":
        covers = why.get("covers")
        if isinstance(covers, int) and covers > 1:
            return _(
                "by your meter's readings: this month's share of the %(months)s months since the reading before"
            ) % {"months": covers}
        return _("by your meter's readings")
    if source == "metered_estimated":
        hours = _hours(why.get("estimated_hours"), language)
        return _(
            "by your meter's readings, but the meter was silent at the month's start or end:"
            " %(hours)s hours of it are estimated"
        ) % {"hours": hours}
    if source == "shared" and why.get("estimated_hours") is not None:
        return _(
            "your share by area of the building's meter, %(hours)s hours of whose month are estimated"
        ) % {"hours": _hours(why.get("estimated_hours"), language)}
    if source == "recalculation":
        months = ", ".join(_month(m, language) for m in why.get("months", []))
        return _(
            "recalculation of %(months)s by the meter's readings, less what was billed for them by estimate"
        ) % {"months": months}
    names = {
        "average": _("by the meter's average month (too few readings this month)"),
        "norm": _("by the norm per registered resident (no usable meter readings)"),
        "shared": _("your share by area of the building's meter"),
        "area": _("by the apartment's area"),
        "residents": _("by the number of registered residents"),
        "fixed": _("a fixed monthly fee"),
    }
    return names.get(source, Markup.escape(source))


def _hours(value: Any, language: str) -> str:
    try:
        hours = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "?"
    return i18n.number(hours, language, "#,##0.#")


def _month(value: str, language: str) -> str:
    try:
        year, month = (int(part) for part in str(value).split("-"))
        return i18n.month(date(year, month, 1), language)
    except ValueError:
        return str(value)
