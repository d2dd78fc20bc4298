"""The console's expense forms, apart from their routes: amounts typed in UZS, request numbers,
the uploaded file, and the service's refusals and the forms' outcomes in the page's language."""

from datetime import date
from typing import Any

from fastapi import UploadFile

from housing.building_money import documents, service
from housing.building_money.rules import Quarter
from housing.errors import DomainError
from housing.settings import Settings
from housing.validation import parse_id


def quarter_or_now(text: str, today: date) -> Quarter:
    try:
        return Quarter.parse(text) if text.strip() else Quarter.of(today)
    except ValueError:
        return Quarter.of(today)


def request_ids(text: str) -> list[int] | None:
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    ids = [parse_id(p) for p in parts[: service.MAX_REQUESTS + 1]]
    return None if None in ids else [i for i in ids if i is not None]


def upload_of(file: UploadFile | None, settings: Settings) -> documents.Upload | None:
    if file is None or not file.filename:
        return None
    data = file.file.read(settings.money.max_document_bytes + 1)
    return documents.Upload(data, file.filename.replace("\\", "/").rsplit("/", 1)[-1])


def refusal(error: DomainError, _: Any, settings: Settings) -> str:
    """The service's refusal in the page's language where it is a common one, else its own words."""
    size = settings.money.max_document_bytes // (1024 * 1024)
    messages = {
        413: _("The file must be a JPEG, PNG or WebP picture or a PDF of at most %(size)s MB.")
        % {"size": size},
        415: _("The file must be a JPEG, PNG or WebP picture or a PDF of at most %(size)s MB.")
        % {"size": size},
        409: _("This quarter's report is published: book a correction in an open quarter instead."),
        403: _("Only the managing company's managers and admins book a building's money."),
    }
    if error.status == 409 and "published" not in error.detail:
        return error.detail  # another conflict (too many documents): the service's words
    return messages.get(error.status, error.detail)


def notice(done: str, _: Any) -> str:
    """What the last form did, said after its redirect."""
    if done.startswith("imported-"):
        recorded, _sep, skipped = done.removeprefix("imported-").partition("-")
        return _("Imported: %(recorded)s expenses booked, %(skipped)s already booked before.") % {
            "recorded": recorded if recorded.isdigit() else "?",
            "skipped": skipped if skipped.isdigit() else "?",
        }
    return {
        "booked": _("The expense is booked."),
        "corrected": _("The correction is booked."),
        "attached": _("The document is attached."),
    }.get(done, "")


def form_field(field: str | None) -> str:
    return {"amount_minor": "amount", None: "form"}.get(field, field or "form")


def manual_weights(text: str) -> dict[int, str] | None:
    """Lines "12 = 1.5" (or "12: 1.5") as building id -> weight as typed; None when a line is not one.

    The weights themselves are judged by the service (above 0, at most 4 decimals).
    """
    found: dict[int, str] = {}
    for line in text.splitlines()[: service.MAX_SHARED_BUILDINGS + 1]:
        if not line.strip():
            continue
        key, sep, value = line.replace(":", "=").partition("=")
        building_id = parse_id(key)
        if not sep or building_id is None or building_id in found or not value.strip():
            return None
        found[building_id] = value.strip().replace(",", ".")
    return found or None
