"""HTML routes of owners' meetings for staff, admins and officials (`/console/meetings`).

The list; drafting a meeting (its texts in uz/ru/en and its voting days); one meeting's page,
which carries every form of the meeting's life: texts and period while a draft, agenda
questions (kind, new company, fee, effective date), documents, publish, cancel, paper ballots
(voter, answers, scan), proxies (upload, accept, reject), turnout, close, the results and the
register, the event log and the protocol in each language.

Each form posts to its own route, which makes one service call: on success a 303 back to the
meeting (with a note of what happened), on a refusal the meeting's page again with the reason
beside that form and the service's status (nothing half-written: the service flushes nothing on
an error and the request's transaction is not committed). Officials read everything and see no
forms; the service decides who may do what (`queries.ORGANIZERS`, `queries.CLERKS`).

It runs over 500 lines because one meeting's page carries seventeen forms, each a route with
its own refusal beside it; split, one page's forms would be scattered. Their parsing is in
`forms.py`, shared with an owner's initiative pages.
"""

from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.announcements.languages import WRITTEN_IN
from housing.auth import StaffActor, WatcherActor
from housing.clock import local_day
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import DomainError, NotFound
from housing.meetings import closing, drafting, publishing, queries, reading, receipts, voting
from housing.meetings.forms import (
    TITLE_MAX,
    DraftForm,
    QuestionForm,
    draft_from_form,
    period_of_form,
    question_from_form,
    texts_of_form,
    typed_words,
)
from housing.meetings.models import (
    Ballot,
    InitiatorKind,
    Meeting,
    MeetingEvent,
    MeetingProxy,
    MeetingQuestion,
    MeetingStatus,
    MeetingVoter,
)
from housing.meetings.pages import (
    PostedForm,
    agenda,
    document_response,
    fraction_text,
    meeting_of,
    page_of_meetings,
    protocol_response,
    receipt_of,
    refusal,
    results,
    show,
    summary,
    turnout_view,
)
from housing.meetings.phases import Phase
from housing.meetings.rules import Choice, DecisionKind, shown
from housing.registry.models import Apartment, Building, ManagementCompany, Person
from housing.registry.queries import managed_building_ids
from housing.settings import Settings
from housing.validation import Id, PageNumber, Text, parse_id
from housing.web import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_BUILDINGS = 1_000  # the draft form's choices: one company's buildings
MAX_COMPANIES = 2_000
EVENTS = 500  # the newest shown


@router.get("/console/meetings", response_class=HTMLResponse)
def meetings(
    request: Request,
    session: SessionDep,
    actor: WatcherActor,
    today: Today,
    now: Now,
    page: PageNumber = 1,
) -> Response:
    shown, paging = page_of_meetings(request, session, actor, today, now, page, PAGE_SIZE)
    may_draft = actor.role in queries.ORGANIZERS
    return render(
        request, "meetings/console_list.html", actor=actor, shown=shown, paging=paging, may_draft=may_draft
    )


@router.get("/console/meetings/new", response_class=HTMLResponse)
def new_meeting(
    request: Request, session: SessionDep, actor: StaffActor, settings: SettingsDep, today: Today
) -> Response:
    return _draft_form(request, session, actor, settings, today, typed={}, errors={})


@router.post("/console/meetings", response_class=HTMLResponse)
def draft_meeting(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    form: Annotated[DraftForm, Form()],
) -> Response:
    meeting, errors, typed = draft_from_form(request, session, actor, settings, now, form)
    if meeting is not None:
        return RedirectResponse(f"/console/meetings/{meeting.id}?done=drafted", status_code=303)
    return _draft_form(request, session, actor, settings, today, typed=typed, errors=errors, status_code=422)


@router.get("/console/meetings/{meeting_id}", response_class=HTMLResponse)
def meeting_page(
    request: Request,
    session: SessionDep,
    actor: WatcherActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
) -> Response:
    return _page(request, session, actor, meeting, settings, now, errors={}, typed={})


@router.post("/console/meetings/{meeting_id}/texts", response_class=HTMLResponse)
def update_meeting(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
    form: Annotated[DraftForm, Form()],
) -> Response:
    _ = gettext_for(request, actor)
    words, first_day, last_day = form.words, form.first_day, form.last_day
    typed = typed_words(words) | {"first_day": first_day, "last_day": last_day}
    errors: dict[str, str] = {}
    texts = texts_of_form(words, errors, _, TITLE_MAX, need_body=False, key="texts")
    period = period_of_form(first_day, last_day, settings, errors, _, key="texts")
    if not errors:
        assert period is not None
        try:
            drafting.update_meeting(
                session, actor, meeting, texts=texts, voting_starts=period[0], voting_ends=period[1], now=now
            )
        except DomainError as error:
            return _refused(request, session, actor, meeting, settings, now, "texts", error, typed)
        return _done(meeting, "updated")
    return _page(request, session, actor, meeting, settings, now, errors=errors, typed=typed, status_code=422)


@router.post("/console/meetings/{meeting_id}/questions", response_class=HTMLResponse)
def add_question(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
    form: Annotated[QuestionForm, Form()],
) -> Response:
    fields = form.fields
    try:
        errors, typed = question_from_form(request, session, actor, meeting, now, form)
    except DomainError as error:
        return _refused(request, session, actor, meeting, settings, now, "question", error, fields)
    if not errors:
        return _done(meeting, "question")
    return _page(request, session, actor, meeting, settings, now, errors=errors, typed=typed, status_code=422)


@router.post("/console/meetings/{meeting_id}/questions/{question_id}/remove", response_class=HTMLResponse)
def remove_question(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    meeting_id: Id,
    settings: SettingsDep,
    now: Now,
    question_id: Id,
) -> Response:
    meeting = meeting_of(session, actor, today, meeting_id)
    question = session.get(MeetingQuestion, question_id)
    if question is None or question.meeting_id != meeting.id:
        raise NotFound(f"question {question_id} not found")
    try:
        drafting.remove_question(session, actor, question, now=now)
    except DomainError as error:
        return _refused(request, session, actor, meeting, settings, now, "question", error, {})
    return _done(meeting, "removed")


@router.post("/console/meetings/{meeting_id}/documents", response_class=HTMLResponse)
def attach_document(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
    title: Annotated[Text, Form(max_length=TITLE_MAX * 2)] = "",
    question_id: Annotated[Text, Form(max_length=12)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _ = gettext_for(request, actor)
    typed = {"doc_title": title, "doc_question_id": question_id}
    errors: dict[str, str] = {}
    if not title.strip() or len(title) > TITLE_MAX:
        errors["document"] = _("Name the document (up to 200 characters).")
    question = parse_id(question_id) if question_id.strip() else None
    data = _read(file, settings)
    if not data:
        errors["document"] = _("Choose the file: a PDF or a picture.")
    if not errors:
        try:
            drafting.attach_document(
                session,
                actor,
                meeting,
                title=title.strip(),
                data=data,
                question_id=question,
                settings=settings,
                now=now,
            )
        except DomainError as error:
            return _refused(request, session, actor, meeting, settings, now, "document", error, typed)
        return _done(meeting, "document")
    return _page(request, session, actor, meeting, settings, now, errors=errors, typed=typed, status_code=422)


@router.get("/console/meetings/{meeting_id}/documents/{document_id}")
def document(
    session: SessionDep,
    actor: WatcherActor,
    today: Today,
    meeting_id: Id,
    settings: SettingsDep,
    document_id: Id,
) -> Response:
    meeting = meeting_of(session, actor, today, meeting_id)
    return document_response(session, meeting, settings, document_id)


@router.post("/console/meetings/{meeting_id}/publish", response_class=HTMLResponse)
def publish(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
) -> Response:
    try:
        publishing.publish_meeting(session, actor, meeting, settings=settings, now=now)
    except DomainError as error:
        return _refused(request, session, actor, meeting, settings, now, "publish", error, {})
    return _done(meeting, "published")


@router.post("/console/meetings/{meeting_id}/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
    reason: Annotated[Text, Form(max_length=600)] = "",
) -> Response:
    _ = gettext_for(request, actor)
    if not reason.strip() or len(reason) > 300:
        errors = {"cancel": _("Write why the meeting is cancelled (up to 300 characters).")}
        return _page(
            request,
            session,
            actor,
            meeting,
            settings,
            now,
            errors=errors,
            typed={"reason": reason},
            status_code=422,
        )
    try:
        publishing.cancel_meeting(session, actor, meeting, reason=reason.strip(), now=now)
    except DomainError as error:
        return _refused(request, session, actor, meeting, settings, now, "cancel", error, {"reason": reason})
    return _done(meeting, "cancelled")


@router.post("/console/meetings/{meeting_id}/paper-ballots", response_class=HTMLResponse)
def paper_ballot(
    request: Request,
    form: PostedForm,
    session: SessionDep,
    actor: StaffActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
) -> Response:
    """The voter (a roll entry), every question's choice (`q{id}`) and the signed ballot's scan."""
    _ = gettext_for(request, actor)
    voter_id = parse_id(_str(form.get("voter_id")))
    answers: dict[int, Choice] = {}
    typed: dict[str, str] = {"paper_voter_id": _str(form.get("voter_id"))}
    questions, _general = agenda(session, meeting, "en")
    for q in questions:
        value = _str(form.get(f"q{q.id}"))
        if value in Choice._value2member_map_:
            answers[q.id] = Choice(value)
            typed[f"paper_q{q.id}"] = value
    scan = form.get("scan")
    data = b""
    if scan is not None and not isinstance(scan, str) and scan.filename:
        data = scan.file.read(settings.meetings.max_document_bytes + 1)
    errors: dict[str, str] = {}
    if voter_id is None:
        errors["paper"] = _("Choose whose ballot it is.")
    elif len(answers) != len(questions) or not questions:
        errors["paper"] = _("Mark for, against or abstain on each question, as the paper ballot says.")
    elif not data:
        errors["paper"] = _("Attach the scan of the signed paper ballot (a PDF or a picture).")
    if errors:
        return _page(
            request, session, actor, meeting, settings, now, errors=errors, typed=typed, status_code=422
        )
    assert voter_id is not None
    try:
        ballot = voting.enter_paper_ballot(
            session, actor, meeting, voter_id=voter_id, answers=answers, scan=data, settings=settings, now=now
        )
    except DomainError as error:
        return _refused(request, session, actor, meeting, settings, now, "paper", error, typed)
    return RedirectResponse(
        f"/console/meetings/{meeting.id}?done=paper&receipt={receipt_of(ballot.hash)}#paper", status_code=303
    )


@router.post("/console/meetings/{meeting_id}/proxies", response_class=HTMLResponse)
def submit_proxy(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
    voter_id: Annotated[Text, Form(max_length=12)] = "",
    proxy: Annotated[Text, Form(max_length=30)] = "",
    document: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A power of attorney: whose share (a roll entry), who votes instead (their PINFL, or their
    number in the register) and its scan."""
    _ = gettext_for(request, actor)
    typed = {"proxy_voter_id": voter_id, "proxy": proxy}
    errors: dict[str, str] = {}
    voter = parse_id(voter_id)
    person = _person(session, proxy)
    data = _read(document, settings)
    if voter is None:
        errors["proxy"] = _("Choose whose share the power of attorney is for.")
    elif person is None:
        errors["proxy"] = _("Write the proxy's PINFL (14 digits) or number in the register.")
    elif not data:
        errors["proxy"] = _("Attach the scan of the power of attorney (a PDF or a picture).")
    if errors:
        return _page(
            request, session, actor, meeting, settings, now, errors=errors, typed=typed, status_code=422
        )
    assert voter is not None and person is not None
    try:
        voting.submit_proxy(
            session,
            actor,
            meeting,
            voter_id=voter,
            proxy_person_id=person,
            document=data,
            settings=settings,
            now=now,
        )
    except DomainError as error:
        return _refused(request, session, actor, meeting, settings, now, "proxy", error, typed)
    return _done(meeting, "proxy", anchor="proxies")


@router.post("/console/meetings/{meeting_id}/proxies/{proxy_id}", response_class=HTMLResponse)
def decide_proxy(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    meeting_id: Id,
    settings: SettingsDep,
    now: Now,
    proxy_id: Id,
    decision: Annotated[Text, Form(max_length=10)] = "",
    reason: Annotated[Text, Form(max_length=600)] = "",
) -> Response:
    meeting = meeting_of(session, actor, today, meeting_id)
    _ = gettext_for(request, actor)
    proxy = session.get(MeetingProxy, proxy_id)
    if proxy is None or proxy.meeting_id != meeting.id:
        raise NotFound(f"proxy {proxy_id} not found")
    typed = {f"reason_{proxy_id}": reason}
    if decision not in ("accept", "reject"):
        errors = {f"proxy-{proxy_id}": _("Accept or reject the power of attorney.")}
        return _page(
            request, session, actor, meeting, settings, now, errors=errors, typed=typed, status_code=422
        )
    if (decision == "reject" and not reason.strip()) or len(reason) > 300:
        errors = {f"proxy-{proxy_id}": _("Write why it is rejected (up to 300 characters).")}
        return _page(
            request, session, actor, meeting, settings, now, errors=errors, typed=typed, status_code=422
        )
    try:
        voting.decide_proxy(
            session, actor, proxy, accept=decision == "accept", reason=reason.strip(), now=now
        )
    except DomainError as error:
        return _refused(request, session, actor, meeting, settings, now, f"proxy-{proxy_id}", error, typed)
    return _done(meeting, "accepted" if decision == "accept" else "rejected", anchor="proxies")


@router.get("/console/meetings/{meeting_id}/proxies/{proxy_id}/document")
def proxy_document(
    session: SessionDep,
    actor: WatcherActor,
    today: Today,
    meeting_id: Id,
    settings: SettingsDep,
    proxy_id: Id,
) -> Response:
    meeting = meeting_of(session, actor, today, meeting_id)
    proxy = session.get(MeetingProxy, proxy_id)
    if proxy is None or proxy.meeting_id != meeting.id:
        raise NotFound(f"proxy {proxy_id} not found")
    data = reading.read_file(proxy.file, settings=settings)
    return Response(data, media_type=proxy.content_type, headers={"X-Content-Type-Options": "nosniff"})


@router.get("/console/meetings/{meeting_id}/ballots/{sequence}/scan")
def ballot_scan(
    session: SessionDep,
    actor: WatcherActor,
    today: Today,
    meeting_id: Id,
    settings: SettingsDep,
    sequence: Id,
) -> Response:
    meeting = meeting_of(session, actor, today, meeting_id)
    ballot = session.exec(
        select(Ballot).where(Ballot.meeting_id == meeting.id, Ballot.sequence == sequence)
    ).first()
    if ballot is None or ballot.scan_file is None:
        raise NotFound(f"no scan of ballot {sequence}")
    data = reading.read_file(ballot.scan_file, settings=settings)
    return Response(
        data,
        media_type=ballot.scan_type or "application/octet-stream",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@router.post("/console/meetings/{meeting_id}/close", response_class=HTMLResponse)
def close(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    now: Now,
) -> Response:
    try:
        closing.close_meeting(session, meeting, actor=actor, settings=settings, now=now)
    except DomainError as error:
        return _refused(request, session, actor, meeting, settings, now, "close", error, {})
    return _done(meeting, "closed", anchor="results")


@router.get("/console/meetings/{meeting_id}/protocol.pdf")
def protocol_pdf(
    session: SessionDep,
    actor: WatcherActor,
    meeting: queries.VisibleMeeting,
    settings: SettingsDep,
    language: Annotated[Text, Query(max_length=5)] = "uz",
) -> Response:
    return protocol_response(session, meeting, settings, language)


# The page and its pieces.


def _done(meeting: Meeting, what: str, anchor: str = "") -> Response:
    return RedirectResponse(
        f"/console/meetings/{meeting.id}?done={what}" + (f"#{anchor}" if anchor else ""), status_code=303
    )


def _refused(
    request: Request,
    session: Session,
    actor: Actor,
    meeting: Meeting,
    settings: Settings,
    now: datetime,
    key: str,
    error: DomainError,
    typed: dict[str, str],
) -> Response:
    """The page again with the service's reason beside the form that was sent, and its status.

    The request's transaction is rolled back by the caller's session (nothing is committed on an
    error page); the page reads the meeting as it was."""
    session.rollback()
    session.refresh(meeting)
    status = error.status if 400 <= error.status < 500 else 422
    errors = {key: refusal(request, actor, error)}
    return _page(
        request, session, actor, meeting, settings, now, errors=errors, typed=typed, status_code=status
    )


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    meeting: Meeting,
    settings: Settings,
    now: datetime,
    *,
    errors: dict[str, str],
    typed: dict[str, str],
    status_code: int = 200,
) -> Response:
    language = request_language(request, actor.language)
    one = show(session, [meeting], language, now, settings.timezone)[0]
    questions, general = agenda(session, meeting, language)
    status = MeetingStatus(meeting.status)
    closed = status is MeetingStatus.closed
    count = closing.meeting_count(session, meeting, settings=settings) if closed else None
    roll = _roll(session, meeting)
    texts = {t.language: t for t in one.texts}
    editable = status in (MeetingStatus.draft, MeetingStatus.initiative)
    if editable and not any(key.startswith(("title_", "text_", "first_day")) for key in typed):
        # The edit form starts from the meeting as it is, whatever other form was refused.
        saved = {f"title_{code}": t.title for code, t in texts.items()}
        saved |= {f"text_{code}": t.body for code, t in texts.items()}
        typed = saved | _days(meeting, settings) | typed
    may_run = actor.role in queries.ORGANIZERS
    # An owners' initiative is run by the owner who started it (on the API) or an admin.
    may_organize = actor.role is Role.admin or (may_run and meeting.initiator != InitiatorKind.owners)
    may_clerk = actor.role in queries.CLERKS
    return render(
        request,
        "meetings/console_meeting.html",
        status_code=status_code,
        actor=actor,
        one=one,
        meeting=meeting,
        status=status.value,
        questions=questions,
        general=general,
        editable=editable,
        kinds=list(DecisionKind),
        companies=companies(session, meeting) if editable and may_organize else [],
        roll=roll,
        proxies=_proxies(session, meeting),
        events=_events(session, meeting),
        turnout=turnout_view(session, meeting, settings),
        count=summary(count) if count else None,
        results=results(count) if count else {},
        register=receipts.ballot_register(session, meeting) if closed else [],
        may_run=may_run,
        may_organize=may_organize,
        may_clerk=may_clerk,
        may_close=may_run and status is MeetingStatus.published and one.phase is Phase.counting,
        voting=one.phase is Phase.voting,
        choices=list(Choice),
        errors=errors,
        typed=typed,
        done=request.query_params.get("done", "")[:20],
        receipt=request.query_params.get("receipt", "")[:16],
        languages_written=WRITTEN_IN,
        rules=settings.meetings,
        max_file_mb=settings.meetings.max_document_bytes // (1024 * 1024),
        receipt_of=receipt_of,
        fraction_text=fraction_text,
        shown_m2=lambda value: shown(Fraction(value)),
    )


def _roll(session: Session, meeting: Meeting) -> list[dict[str, Any]]:
    """The roll with each entry's apartment, owner, weight and whether it has a ballot."""
    rows = session.execute(
        select(MeetingVoter, Apartment.number, Person.full_name, Ballot.sequence)
        .join(Apartment, col(Apartment.id) == MeetingVoter.apartment_id)
        .join(Person, col(Person.id) == MeetingVoter.person_id)
        .outerjoin(Ballot, (Ballot.voter_id == MeetingVoter.id) & (Ballot.meeting_id == meeting.id))
        .where(MeetingVoter.meeting_id == meeting.id)
        .order_by(col(MeetingVoter.id))
    ).all()
    return [
        {
            "id": voter.id,
            "apartment": number,
            "owner": name,
            "share": f"{voter.share_numerator}/{voter.share_denominator}"
            if voter.share_denominator != 1
            else str(voter.share_numerator),
            "weight": shown(
                Fraction(voter.share_numerator, voter.share_denominator) * Fraction(voter.area_m2)
            ),
            "ballot": sequence,
        }
        for voter, number, name, sequence in rows
    ]


def _proxies(session: Session, meeting: Meeting) -> list[dict[str, Any]]:
    rows = session.execute(
        select(MeetingProxy, Person.full_name, Apartment.number)
        .join(Person, col(Person.id) == MeetingProxy.proxy_person_id)
        .join(MeetingVoter, col(MeetingVoter.id) == MeetingProxy.voter_id)
        .join(Apartment, col(Apartment.id) == MeetingVoter.apartment_id)
        .where(MeetingProxy.meeting_id == meeting.id)
        .order_by(col(MeetingProxy.id))
    ).all()
    return [{"proxy": proxy, "name": name, "apartment": number} for proxy, name, number in rows]


def _events(session: Session, meeting: Meeting) -> list[tuple[MeetingEvent, str | None]]:
    return list(
        session.execute(
            select(MeetingEvent, User.username)
            .outerjoin(User, col(User.id) == MeetingEvent.user_id)
            .where(MeetingEvent.meeting_id == meeting.id)
            .order_by(col(MeetingEvent.at).desc(), col(MeetingEvent.id).desc())
            .limit(EVENTS)
        ).all()
    )


def companies(session: Session, meeting: Meeting) -> list[tuple[int, str]]:
    return list(
        session.execute(
            select(ManagementCompany.id, ManagementCompany.name)
            .order_by(ManagementCompany.name)
            .limit(MAX_COMPANIES)
        ).all()
    )


def _draft_form(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    today: date,
    *,
    typed: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    buildings: list[tuple[int, str]] = []
    if actor.is_company_staff and actor.company_id is not None:
        buildings = list(
            session.execute(
                select(Building.id, Building.address)
                .where(col(Building.id).in_(managed_building_ids(actor.company_id, today)))
                .order_by(Building.address)
                .limit(MAX_BUILDINGS)
            ).all()
        )
    return render(
        request,
        "meetings/console_new.html",
        status_code=status_code,
        actor=actor,
        typed=typed,
        errors=errors,
        buildings=buildings,
        languages_written=WRITTEN_IN,
        rules=settings.meetings,
    )


def _days(meeting: Meeting, settings: Settings) -> dict[str, str]:
    first = local_day(meeting.voting_starts, settings.timezone)
    last = local_day(meeting.voting_ends - timedelta(microseconds=1), settings.timezone)
    return {"first_day": first.isoformat(), "last_day": last.isoformat()}


def _person(session: Session, text: str) -> int | None:
    value = text.strip()
    if len(value) == 14 and value.isdigit():
        return session.exec(select(Person.id).where(Person.pinfl == value)).first()
    person_id = parse_id(value)
    if person_id is None:
        return None
    return person_id if session.get(Person, person_id) is not None else None


def _read(upload: UploadFile | None, settings: Settings) -> bytes:
    if upload is None or not upload.filename:
        return b""
    return upload.file.read(settings.meetings.max_document_bytes + 1)


def _str(value: Any) -> str:
    return value[:30] if isinstance(value, str) else ""
