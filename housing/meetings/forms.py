"""The meeting forms' parsing, shared by the console and an owner's initiative pages: the texts
in uz/ru/en, the voting days (city time), a question's kind, company, fee and effective day,
and the draft itself. Each gives back what was typed and the errors by field, in the reader's
language, so the page can show the form again beside them.
"""

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Request
from pydantic import Field
from sqlmodel import Session

from housing.actors import Actor
from housing.clock import local_midnight
from housing.errors import DomainError
from housing.meetings import drafting
from housing.meetings.models import Meeting
from housing.meetings.pages import refusal
from housing.meetings.rules import DecisionKind
from housing.settings import Settings
from housing.validation import InputModel, Text, parse_day, parse_id
from housing.web import gettext_for

TITLE_MAX, BODY_MAX, QUESTION_TITLE_MAX = 200, 5000, 300
FEE_MAX_MINOR = 100_000_000  # 1,000,000 so'm per m2 a month: surely a typing error above


def typed_words(words: dict[str, tuple[str, str]]) -> dict[str, str]:
    typed = {f"title_{code}": title for code, (title, _text) in words.items()}
    return typed | {f"text_{code}": text for code, (_title, text) in words.items()}


def texts_of_form(
    words: dict[str, tuple[str, str]],
    errors: dict[str, str],
    _: Any,
    title_max: int,
    *,
    need_body: bool,
    key: str | None = None,
) -> dict[str, tuple[str, str]]:
    """language -> (title, body) for the languages written; a body without a title is an error."""
    texts = {}
    for code, (title, body) in words.items():
        if not title.strip() and not body.strip():
            continue
        if not title.strip() or (need_body and not body.strip()):
            errors[key or f"text_{code}"] = _("Write the title in this language, or leave both fields empty.")
        elif len(title) > title_max or len(body) > BODY_MAX:
            errors[key or f"text_{code}"] = _("The title or the text is too long.")
        else:
            texts[code] = (title.strip(), body.strip())
    if not texts and not errors:
        errors[key or "texts"] = _("Write a title in at least one language.")
    return texts


def period_of_form(
    first_day: str, last_day: str, settings: Settings, errors: dict[str, str], _: Any, key: str | None = None
) -> tuple[datetime, datetime] | None:
    """Voting from the first day's midnight to the midnight after the last day, in the city's time."""
    first, last = parse_day(first_day), parse_day(last_day)
    if first is None or last is None:
        errors[key or "period"] = _("Choose the first and the last day of voting.")
        return None
    if last < first:
        errors[key or "period"] = _("The last day of voting cannot be before the first.")
        return None
    return local_midnight(first, settings.timezone), local_midnight(
        last + timedelta(days=1), settings.timezone
    )


class QuestionForm(InputModel):
    """The question form's fields (the console's and an initiative's initiator's), as typed."""

    kind: Annotated[Text, Field(max_length=30)] = ""
    company_id: Annotated[Text, Field(max_length=12)] = ""
    fee: Annotated[Text, Field(max_length=20)] = ""
    effective_from: Annotated[Text, Field(max_length=20)] = ""
    q_title_uz: Annotated[Text, Field(max_length=QUESTION_TITLE_MAX * 2)] = ""
    q_text_uz: Annotated[Text, Field(max_length=BODY_MAX * 2)] = ""
    q_title_ru: Annotated[Text, Field(max_length=QUESTION_TITLE_MAX * 2)] = ""
    q_text_ru: Annotated[Text, Field(max_length=BODY_MAX * 2)] = ""
    q_title_en: Annotated[Text, Field(max_length=QUESTION_TITLE_MAX * 2)] = ""
    q_text_en: Annotated[Text, Field(max_length=BODY_MAX * 2)] = ""

    @property
    def words(self) -> dict[str, tuple[str, str]]:
        return {
            "uz": (self.q_title_uz, self.q_text_uz),
            "ru": (self.q_title_ru, self.q_text_ru),
            "en": (self.q_title_en, self.q_text_en),
        }

    @property
    def fields(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "company_id": self.company_id,
            "fee": self.fee,
            "effective_from": self.effective_from,
        }


def question_from_form(
    request: Request, session: Session, actor: Actor, meeting: Meeting, now: datetime, form: QuestionForm
) -> tuple[dict[str, str], dict[str, str]]:
    """Adds the question of the question form (the console's and the initiator's): (errors, what
    was typed); no errors means it is on the agenda. The service's refusal is raised."""
    _ = gettext_for(request, actor)
    words, kind, company_id, fee, effective_from = (
        form.words,
        form.kind,
        form.company_id,
        form.fee,
        form.effective_from,
    )
    typed = {f"q_{key}": value for key, value in typed_words(words).items()} | form.fields
    errors: dict[str, str] = {}
    texts = texts_of_form(words, errors, _, QUESTION_TITLE_MAX, need_body=False, key="question")
    chosen = DecisionKind(kind) if kind in DecisionKind._value2member_map_ else None
    if chosen is None:
        errors["question"] = _("Choose the kind of decision.")
    company = parse_id(company_id) if company_id.strip() else None
    if company_id.strip() and company is None:
        errors["question"] = _("Choose a company.")
    fee_minor = fee_of_form(fee) if fee.strip() else None
    if fee.strip() and fee_minor is None:
        errors["question"] = _("Write the fee in so'm per m² a month, e.g. 1823 or 1823.50.")
    effective = parse_day(effective_from) if effective_from.strip() else None
    if effective_from.strip() and effective is None:
        errors["question"] = _("Write the day the decision takes effect.")
    if not errors:
        assert chosen is not None
        drafting.add_question(
            session,
            actor,
            meeting,
            kind=chosen,
            texts=texts,
            company_id=company if chosen is DecisionKind.management_company else None,
            fee_minor=fee_minor if chosen is DecisionKind.management_fee else None,
            effective_from=effective
            if chosen in (DecisionKind.management_company, DecisionKind.management_fee)
            else None,
            now=now,
        )
    return errors, typed


def fee_of_form(text: str) -> int | None:
    """So'm per m2 (up to two decimals) in tiyin, or None when not a positive amount."""
    try:
        amount = Decimal(text.strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    minor = int(amount * 100)
    return minor if 0 < minor <= FEE_MAX_MINOR else None


def field_of(error: DomainError, known: set[str], default: str) -> str:
    return error.field if error.field in known else default


class DraftForm(InputModel):
    """The draft form's fields (the console's and an owner's initiative), as typed."""

    building_id: Annotated[Text, Field(max_length=12)] = ""
    first_day: Annotated[Text, Field(max_length=20)] = ""
    last_day: Annotated[Text, Field(max_length=20)] = ""
    title_uz: Annotated[Text, Field(max_length=TITLE_MAX * 2)] = ""
    text_uz: Annotated[Text, Field(max_length=BODY_MAX * 2)] = ""
    title_ru: Annotated[Text, Field(max_length=TITLE_MAX * 2)] = ""
    text_ru: Annotated[Text, Field(max_length=BODY_MAX * 2)] = ""
    title_en: Annotated[Text, Field(max_length=TITLE_MAX * 2)] = ""
    text_en: Annotated[Text, Field(max_length=BODY_MAX * 2)] = ""

    @property
    def words(self) -> dict[str, tuple[str, str]]:
        return {
            "uz": (self.title_uz, self.text_uz),
            "ru": (self.title_ru, self.text_ru),
            "en": (self.title_en, self.text_en),
        }


def draft_from_form(
    request: Request, session: Session, actor: Actor, settings: Settings, now: datetime, form: DraftForm
) -> tuple[Meeting | None, dict[str, str], dict[str, str]]:
    """Drafts the meeting of the draft form: (the meeting or None, errors, what was typed). A
    refusal of the service is an error of its field."""
    _ = gettext_for(request, actor)
    words = form.words
    typed = typed_words(words) | {
        "building_id": form.building_id,
        "first_day": form.first_day,
        "last_day": form.last_day,
    }
    errors: dict[str, str] = {}
    texts = texts_of_form(words, errors, _, TITLE_MAX, need_body=False)
    building = parse_id(form.building_id)
    if building is None:
        errors["building_id"] = _("Choose a building.")
    period = period_of_form(form.first_day, form.last_day, settings, errors, _)
    if errors or building is None or period is None:
        return None, errors, typed
    try:
        meeting = drafting.draft_meeting(
            session,
            actor,
            building_id=building,
            texts=texts,
            voting_starts=period[0],
            voting_ends=period[1],
            now=now,
        )
    except DomainError as error:
        session.rollback()
        errors[field_of(error, {"building_id", "voting_starts", "voting_ends"}, "form")] = refusal(
            request, actor, error
        )
        return None, errors, typed
    return meeting, errors, typed
