"""HTML routes of owners' meetings for residents (`/meetings`): the building's meetings, one
meeting (agenda, documents, turnout while voting, results when closed, the register of ballots
and a receipt lookup), the vote form, the receipt page and signing an owners' initiative.

Everything works without JavaScript: the vote form has one section per roll entry the user may
vote for (their own shares and those they hold an accepted proxy for), each with for / against /
abstain per question, and posts one ballot; the answer is a 303 to the ballot's receipt. Who may
see a meeting is `queries.VisibleMeeting` (404 otherwise); who may vote is the service's
`voter_entries`. How anyone voted is shown only once the meeting is closed (the register); while
the vote runs a page shows turnout (the weight voted so far against the quorum), and a receipt
finds only the one ballot whose hash it is.

The helpers below (`Shown`, `show`, `agenda`) are shared with the console pages. It runs
over 500 lines because of them: the owners' and the console's pages word a meeting alike.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from housing import i18n
from housing.actors import Actor
from housing.announcements.languages import WRITTEN_IN, pick
from housing.auth import ResidentActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import DomainError, NotFound
from housing.meetings import (
    closing,
    phases,
    protocol,
    protocol_source,
    publishing,
    queries,
    reading,
    receipts,
    voting,
)
from housing.meetings.models import (
    Ballot,
    Meeting,
    MeetingDocument,
    MeetingEvent,
    MeetingQuestion,
    MeetingStatus,
    MeetingText,
    QuestionText,
)
from housing.meetings.phases import Phase
from housing.meetings.rules import Choice, DecisionKind, MeetingRules, percent, shown
from housing.registry.models import Building, ManagementCompany
from housing.routing import page_of
from housing.settings import CITY_TIMEZONE
from housing.validation import Id, PageNumber, Text
from housing.web import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
RECEIPT = re.compile(r"^[0-9a-f]{8,64}$")


@dataclass(frozen=True)
class Question:
    question: MeetingQuestion
    language: str
    title: str
    body: str
    texts: list[QuestionText]
    company_name: str | None
    documents: list[MeetingDocument]

    @property
    def id(self) -> int:
        return self.question.id  # type: ignore[return-value]


@dataclass(frozen=True)
class Shown:
    """A meeting as a page shows it: its words in the reader's language, its phase, its building."""

    meeting: Meeting
    phase: Phase
    language: str
    title: str
    body: str
    texts: list[MeetingText]
    address: str
    days: tuple[date, date] | None  # the first and last day of voting, when it runs whole days


def show(
    session: Session, meetings: list[Meeting], language: str, now: datetime, timezone: str = CITY_TIMEZONE
) -> list[Shown]:
    """Each meeting's words in `language` (else another it was written in), in two queries."""
    texts = reading.texts_of(session, [m.id for m in meetings])
    addresses = dict(
        session.execute(
            select(Building.id, Building.address).where(
                col(Building.id).in_({m.building_id for m in meetings})
            )
        ).all()
    )
    result = []
    for meeting in meetings:
        chosen, title, body, written = in_language(texts.get(meeting.id, {}), language)  # type: ignore[arg-type]
        result.append(
            Shown(
                meeting=meeting,
                phase=phases.phase(meeting, now),
                language=chosen,
                title=title or f"#{meeting.id}",
                body=body,
                texts=written,
                address=addresses.get(meeting.building_id, ""),
                days=whole_days(meeting, timezone),
            )
        )
    return result


def in_language(written: dict[str, Any], language: str) -> tuple[str, str, str, list[Any]]:
    """A text (a meeting's or a question's) in `language`, else in another it was written in:
    (its language, title, body, every language's text in the platform's order)."""
    chosen, text = pick(written, language) if written else (language, None)
    in_order = [written[code] for code in WRITTEN_IN if code in written]
    return chosen, text.title if text else "", text.body if text else "", in_order


def whole_days(meeting: Meeting, timezone: str) -> tuple[date, date] | None:
    """(first day, last day) when voting opens and closes at the city's midnights, as the console's
    form sets it; None for other moments (shown as they are)."""
    starts = meeting.voting_starts.astimezone(ZoneInfo(timezone))
    ends = meeting.voting_ends.astimezone(ZoneInfo(timezone))
    if starts.timetz().replace(tzinfo=None) != time(0) or ends.timetz().replace(tzinfo=None) != time(0):
        return None
    return starts.date(), ends.date() - timedelta(days=1)


def agenda(session: Session, meeting: Meeting, language: str) -> tuple[list[Question], list[MeetingDocument]]:
    """The questions in order, each in `language` where written, with its documents; and the
    documents of the whole meeting."""
    questions = reading.questions_of(session, meeting)
    texts = reading.question_texts_of(session, [q.id for q in questions])
    files = reading.documents_of(session, meeting)
    companies = dict(
        session.execute(
            select(ManagementCompany.id, ManagementCompany.name).where(
                col(ManagementCompany.id).in_({q.company_id for q in questions if q.company_id})
            )
        ).all()
    )
    shown_questions = []
    for question in questions:
        chosen, title, body, written = in_language(texts.get(question.id, {}), language)  # type: ignore[arg-type]
        shown_questions.append(
            Question(
                question=question,
                language=chosen,
                title=title,
                body=body,
                texts=written,
                company_name=companies.get(question.company_id) if question.company_id else None,
                documents=[f for f in files if f.question_id == question.id],
            )
        )
    return shown_questions, [f for f in files if f.question_id is None]


@dataclass(frozen=True)
class Result:
    """One question's stored result, as the results table shows it (0.01 m2, 0.01%)."""

    votes_for: Any
    votes_against: Any
    votes_abstain: Any
    for_of_all: Any
    for_of_cast: Any
    against_of_all: Any
    against_of_cast: Any
    abstain_of_all: Any
    abstain_of_cast: Any
    outcome: str | None


def results(count: Any) -> dict[int, Result]:
    """Each question's votes in m2 and in percent of all votes and of the votes cast on it."""
    table = {}
    for q in count.questions:
        cast = q.votes_for + q.votes_against + q.votes_abstain
        table[q.question_id] = Result(
            votes_for=shown(q.votes_for),
            votes_against=shown(q.votes_against),
            votes_abstain=shown(q.votes_abstain),
            for_of_all=shown(percent(q.votes_for, count.total)),
            for_of_cast=shown(percent(q.votes_for, cast)),
            against_of_all=shown(percent(q.votes_against, count.total)),
            against_of_cast=shown(percent(q.votes_against, cast)),
            abstain_of_all=shown(percent(q.votes_abstain, count.total)),
            abstain_of_cast=shown(percent(q.votes_abstain, cast)),
            outcome=str(q.outcome) if q.outcome else None,
        )
    return table


def summary(count: Any) -> dict[str, Any]:
    """The count's totals as shown: votes cast of all votes (0.01 m2, 0.01%) and the quorum."""
    return {
        "cast": shown(count.cast),
        "total": shown(count.total),
        "percent": shown(percent(count.cast, count.total)),
        "quorum": count.quorum,
    }


def turnout_view(session: Session, meeting: Meeting, settings: Any) -> dict[str, Any] | None:
    """Weight voted so far against all votes and the quorum (never how anyone voted)."""
    if meeting.status not in (MeetingStatus.published, MeetingStatus.closed):
        return None
    turnout = closing.turnout(session, meeting, settings=settings)
    cast, total = Fraction(turnout.cast), Fraction(turnout.total)
    needed = Fraction(turnout.quorum_needed)
    return {
        "cast": shown(cast),
        "total": shown(total),
        "percent": shown(percent(cast, total)),
        "needed": shown(needed),
        "needed_percent": shown(percent(needed, total)),
        "reached": turnout.quorum_reached,
        "ballots": turnout.ballots,
        "roll": turnout.roll,
    }


def cancel_reason(session: Session, meeting: Meeting) -> str | None:
    """Why a cancelled meeting was cancelled, as staff wrote it (its event log's last word)."""
    if meeting.status != MeetingStatus.cancelled:
        return None
    return session.exec(
        select(MeetingEvent.detail)
        .where(MeetingEvent.meeting_id == meeting.id, MeetingEvent.action == "cancelled")
        .order_by(col(MeetingEvent.at).desc(), col(MeetingEvent.id).desc())
    ).first()


def fraction_text(value: Any) -> str:
    """A share as owners write it: 1/2, or 1 for a whole apartment."""
    return str(Fraction(value))


def receipt_of(hash_: str) -> str:
    """A receipt as shown: the ballot's hash, first 16 hex digits."""
    return hash_[:16]


def refusal(request: Request, actor: Actor, error: DomainError) -> str:
    """The service's reason, in the page's language where the catalog has it."""
    return gettext_for(request, actor)(error.detail)


@router.get("/meetings", response_class=HTMLResponse)
def meetings(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    today: Today,
    now: Now,
    page: PageNumber = 1,
) -> Response:
    shown, paging = page_of_meetings(request, session, actor, today, now, page)
    return render(request, "meetings/list.html", actor=actor, shown=shown, paging=paging)


def page_of_meetings(
    request: Request,
    session: Session,
    actor: Actor,
    today: date,
    now: datetime,
    page: int,
    size: int = PAGE_SIZE,
) -> tuple[list[Shown], dict]:
    """One page of the meetings this actor sees, newest voting first, worded for the reader."""
    query = queries.visible_meetings(actor, today)
    paging = page_of(session, query, page, size)
    rows = session.exec(
        query.order_by(col(Meeting.voting_starts).desc(), col(Meeting.id).desc())
        .limit(size)
        .offset((paging["page"] - 1) * size)
    ).all()
    language = request_language(request, actor.language)
    return show(session, list(rows), language, now, request.app.state.settings.timezone), paging


@router.get("/meetings/{meeting_id}", response_class=HTMLResponse)
def meeting_page(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    today: Today,
    now: Now,
) -> Response:
    return _meeting(request, session, actor, meeting, settings, today, now, errors={})


def _meeting(
    request: Request,
    session: Session,
    actor: Actor,
    meeting: Meeting,
    settings: Any,
    today: date,
    now: datetime,
    *,
    errors: dict[str, str],
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    language = request_language(request, actor.language)
    one = show(session, [meeting], language, now, settings.timezone)[0]
    questions, general = agenda(session, meeting, language)
    rules = MeetingRules.of(settings)
    entries = voting.voter_entries(session, actor, meeting) if one.phase is Phase.voting else []
    support = None
    if one.phase is Phase.initiative:
        signed, total = publishing.initiative_support(session, meeting, today=today)
        signed, total = Fraction(signed), Fraction(total)
        support = {
            "signed": shown(signed),
            "total": shown(total),
            "percent": shown(percent(signed, total)),
            "needed_percent": shown(rules.initiative_share * 100),
        }
    closed = meeting.status == MeetingStatus.closed
    organizing = meeting.status == MeetingStatus.initiative and meeting.created_by == actor.user_id
    count = closing.meeting_count(session, meeting, settings=settings) if closed else None
    why_cancelled = cancel_reason(session, meeting)
    reads_register = queries.reads_register(session, actor, meeting)
    register = receipts.ballot_register(session, meeting) if closed and reads_register else []
    return render(
        request,
        "meetings/meeting.html",
        status_code=status_code,
        actor=actor,
        one=one,
        questions=questions,
        general=general,
        entries=entries,
        support=support,
        turnout=turnout_view(session, meeting, settings)
        if one.phase in (Phase.voting, Phase.counting)
        else None,
        count=summary(count) if count else None,
        results=results(count) if count else {},
        register=register,
        reads_register=reads_register,
        errors=errors,
        typed=typed or {},
        choices=list(Choice),
        receipt_of=receipt_of,
        fraction_text=fraction_text,
        shown_m2=lambda value: shown(Fraction(value)),
        why_cancelled=why_cancelled,
        organizing=organizing,
        kinds=list(DecisionKind),
        companies=_companies(session) if organizing else [],
        languages_written=WRITTEN_IN,
        done=request.query_params.get("done", "")[:20],
        voted=request.query_params.get("voted"),
        signed=request.query_params.get("signed") == "1",
    )


async def _posted_form(request: Request) -> FormData:
    """A form whose field names depend on the agenda (`q{question id}`), parsed before the route
    runs: the route itself stays synchronous (its database work in the thread pool, never on the
    event loop)."""
    return await request.form(max_files=1, max_fields=1000)


PostedForm = Annotated[FormData, Depends(_posted_form)]


@router.post("/meetings/{meeting_id}/ballots", response_class=HTMLResponse)
def cast_ballot(
    request: Request,
    form: PostedForm,
    session: SessionDep,
    actor: ResidentActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    today: Today,
    now: Now,
) -> Response:
    """One section of the vote form: `voter_id` and `q{question id}` = for / against / abstain."""
    _ = gettext_for(request, actor)
    voter_id = _int(form.get("voter_id"))
    answers, typed = _answers(form, session, meeting)
    errors: dict[str, str] = {}
    status = 422
    if voter_id is None:
        errors["form"] = _("Choose the apartment you vote for.")
    elif answers is None:
        errors[f"voter-{voter_id}"] = _("Choose for, against or abstain on each question.")
    else:
        try:
            ballot = voting.cast_ballot(session, actor, meeting, voter_id=voter_id, answers=answers, now=now)
        except DomainError as error:
            session.rollback()
            session.refresh(meeting)
            errors[f"voter-{voter_id}"] = _ballot_refusal(
                request, session, actor, meeting, voter_id, error, now
            )
            status = error.status if 400 <= error.status < 500 else 422
        else:
            code = receipt_of(ballot.hash)
            return RedirectResponse(f"/meetings/{meeting.id}/receipt?code={code}&voted=1", status_code=303)
    return _meeting(
        request, session, actor, meeting, settings, today, now, errors=errors, typed=typed, status_code=status
    )


def _ballot_refusal(
    request: Request,
    session: Session,
    actor: Actor,
    meeting: Meeting,
    voter_id: int,
    error: DomainError,
    now: datetime,
) -> str:
    """Why a ballot was refused, in the owner's language for the refusals an owner meets (the
    voting is not open, the share has voted); the service's own words otherwise."""
    _ = gettext_for(request, actor)
    language = request_language(request, actor.language)
    timezone = request.app.state.settings.timezone
    current = phases.phase(meeting, now)
    if current is Phase.notice:
        return _("Voting has not started: it opens %(start)s.") % {
            "start": i18n.moment(meeting.voting_starts, language, timezone)
        }
    if current in (Phase.counting, Phase.closed):
        return _("Voting is over: it closed %(end)s. No ballot is accepted after it.") % {
            "end": i18n.moment(meeting.voting_ends, language, timezone)
        }
    ballot = session.exec(
        select(Ballot).where(Ballot.meeting_id == meeting.id, Ballot.voter_id == voter_id)
    ).first()
    if ballot is not None:
        return _(
            "This share has voted already (receipt %(receipt)s, %(at)s). Each share has one ballot:"
            " the first one counts."
        ) % {"receipt": receipt_of(ballot.hash), "at": i18n.moment(ballot.cast_at, language, timezone)}
    return refusal(request, actor, error)


def redisplay(
    request: Request,
    session: Session,
    actor: Actor,
    meeting: Meeting,
    settings: Any,
    today: date,
    now: datetime,
    key: str,
    error: DomainError | None,
    typed: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    """The meeting's page again after a refused form: the service's reason beside form `key` and
    its status (nothing it flushed is kept), or the form's own `errors` (422)."""
    status = 422
    if error is not None:
        session.rollback()
        session.refresh(meeting)
        errors = {key: refusal(request, actor, error)}
        status = error.status if 400 <= error.status < 500 else 422
    return _meeting(
        request,
        session,
        actor,
        meeting,
        settings,
        today,
        now,
        errors=errors or {},
        typed=typed,
        status_code=status,
    )


def _companies(session: Session) -> list[tuple[int, str]]:
    return list(
        session.execute(
            select(ManagementCompany.id, ManagementCompany.name).order_by(ManagementCompany.name).limit(2_000)
        ).all()
    )


def _int(value: Any) -> int | None:
    if not isinstance(value, str) or not value.isdigit() or len(value) > 9:
        return None
    return int(value) or None


def _answers(
    form: Any, session: Session, meeting: Meeting
) -> tuple[dict[int, Choice] | None, dict[str, str]]:
    """Every question's choice from a form (`q{id}`), or None when one is missing or not a choice."""
    ids = session.exec(select(MeetingQuestion.id).where(MeetingQuestion.meeting_id == meeting.id)).all()
    answers: dict[int, Choice] = {}
    typed: dict[str, str] = {}
    complete = True
    for question_id in ids:
        value = form.get(f"q{question_id}")
        if isinstance(value, str) and value in Choice._value2member_map_:
            answers[question_id] = Choice(value)  # type: ignore[index]
            typed[f"q{question_id}"] = value
        else:
            complete = False
    return (answers if complete and answers else None), typed


@router.post("/meetings/{meeting_id}/sign", response_class=HTMLResponse)
def sign(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    today: Today,
    now: Now,
) -> Response:
    """Signs an owners' initiative with all the actor's ownerships in the building."""
    try:
        publishing.sign_initiative(session, actor, meeting, now=now)
    except DomainError as error:
        session.rollback()
        session.refresh(meeting)
        return _meeting(
            request,
            session,
            actor,
            meeting,
            settings,
            today,
            now,
            errors={"sign": refusal(request, actor, error)},
            status_code=error.status if 400 <= error.status < 500 else 422,
        )
    return RedirectResponse(f"/meetings/{meeting.id}?signed=1", status_code=303)


@router.get("/meetings/{meeting_id}/receipt", response_class=HTMLResponse)
def receipt(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    meeting: queries.VisibleMeeting,
    now: Now,
    code: Annotated[Text, Query(max_length=64)] = "",
) -> Response:
    """A ballot found by its receipt (the first 16 hex digits of its hash, or all of it)."""
    queries.require_register_reader(session, actor, meeting)
    language = request_language(request, actor.language)
    wanted = code.strip().lower()[:64]
    valid = bool(RECEIPT.match(wanted))
    row = receipts.find_receipt(session, meeting, wanted) if valid else None
    questions, _general = agenda(session, meeting, language)
    return render(
        request,
        "meetings/receipt.html",
        status_code=200 if row is not None or not wanted else 404 if valid else 422,
        actor=actor,
        one=show(session, [meeting], language, now, request.app.state.settings.timezone)[0],
        questions=questions,
        row=row,
        code=wanted,
        valid=valid,
        voted=request.query_params.get("voted") == "1",
        receipt_of=receipt_of,
        fraction_text=fraction_text,
        shown_m2=lambda value: shown(Fraction(value)),
    )


@router.get("/meetings/{meeting_id}/documents/{document_id}")
def document(
    session: SessionDep,
    actor: ResidentActor,
    settings: SettingsDep,
    today: Today,
    meeting_id: Id,
    document_id: Id,
) -> Response:
    meeting = meeting_of(session, actor, today, meeting_id)
    return document_response(session, meeting, settings, document_id)


def meeting_of(session: Session, actor: Actor, today: date, meeting_id: int) -> Meeting:
    """The meeting if this actor sees it, else 404: for routes with a second id in their path,
    which FastAPI checks (422) only after the dependencies, so these load the meeting themselves."""
    found = session.exec(queries.visible_meetings(actor, today).where(Meeting.id == meeting_id)).first()
    if found is None:
        raise NotFound(f"meeting {meeting_id} not found")
    return found


def document_response(session: Session, meeting: Meeting, settings: Any, document_id: int) -> Response:
    """One agenda document of a meeting the actor sees (404 for another meeting's)."""
    found = session.get(MeetingDocument, document_id)
    if found is None or found.meeting_id != meeting.id:
        raise NotFound(f"document {document_id} not found")
    data = reading.read_document(found, settings=settings)
    return Response(
        data,
        media_type=found.content_type,
        headers={"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/meetings/{meeting_id}/protocol.pdf")
def protocol_pdf(
    session: SessionDep,
    actor: ResidentActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    language: Annotated[Text, Query(max_length=5)] = "uz",
) -> Response:
    queries.require_register_reader(session, actor, meeting)
    return protocol_response(session, meeting, settings, language)


def protocol_response(session: Session, meeting: Meeting, settings: Any, language: str) -> Response:
    """The closed meeting's protocol in one language (409 before the close, 404 for another language)."""
    data = protocol_source.protocol_data(session, meeting, settings=settings)
    pdf = protocol.protocol_pdf(data, language)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="protocol-{meeting.id}-{language}.pdf"'},
    )
