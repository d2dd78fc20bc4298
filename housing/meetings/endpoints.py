"""JSON routes of owners' meetings (`/meetings`) and the city's view of them (`/city/meetings`).

Each route loads the meeting within the actor's sight (`VisibleMeeting`: 404 outside it),
makes one service call and answers its read model; who may do what is the service's rule
(the verbs of `housing.meetings`: drafting, publishing, voting, closing). How anyone voted is
shown only once the meeting is closed (results, the register's choices); while it runs,
`turnout` says how much has voted. It runs over 500 lines because the API has 28 operations,
each with its OpenAPI answers and its read model.
"""

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile, status
from fastapi.responses import Response
from sqlmodel import Session, col, select

from housing.actors import Actor
from housing.announcements.languages import pick
from housing.auth import CityActor, CurrentActor, WatcherActor
from housing.dashboard import DistrictId
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import Conflict, Invalid, NotFound
from housing.i18n import LANGUAGES
from housing.meetings import chain, closing, drafting, publishing, reading, receipts, voting
from housing.meetings.city import city_meetings, describe
from housing.meetings.city_pages import Since, Until, window_of
from housing.meetings.counting import Count
from housing.meetings.models import (
    Ballot,
    Meeting,
    MeetingDocument,
    MeetingProxy,
    MeetingQuestion,
    MeetingStatus,
    MeetingVoter,
)
from housing.meetings.phases import phase
from housing.meetings.protocol import protocol_pdf
from housing.meetings.protocol_source import protocol_data
from housing.meetings.queries import VisibleMeeting, require_register_reader, visible_meetings
from housing.meetings.rules import Choice, MeetingRules, as_text, percent, shown
from housing.meetings.rules import weight as rules_weight
from housing.meetings.schemas import (
    BallotCreate,
    BallotRead,
    CancelIn,
    CityMeetingsRead,
    EventRead,
    Language,
    MeetingCreate,
    MeetingRead,
    MeetingSummary,
    MeetingUpdate,
    ProxyDecision,
    ProxyRead,
    QuestionCreate,
    QuestionRead,
    RegisterRead,
    RegisterRowRead,
    ResultsRead,
    RollEntryRead,
    SupportRead,
    TurnoutRead,
    VoterEntryRead,
)
from housing.registry.models import Apartment, Person
from housing.routing import Paging, counted_page
from housing.schemas import API_PROBLEMS, Page, problems
from housing.settings import Settings
from housing.validation import Id, Text

CENT = Decimal("0.01")
router = APIRouter(tags=["meetings"], responses=API_PROBLEMS)

WRITE = problems(409, why={409: "Not in this phase of the meeting, or a duplicate; `detail` says why"})
UPLOAD = problems(409, 413, 415)
BEFORE_CLOSE = problems(409, why={409: "The meeting is not closed yet: see its turnout"})
Receipt = Annotated[Text, Path(min_length=16, max_length=64, pattern="^[0-9a-fA-F]+$")]


def _language(actor: Actor) -> str:
    return actor.language or LANGUAGES[0]


def _fields(row: Any) -> dict[str, Any]:
    """A row's columns as stored (its read model converts them)."""
    return {column.name: getattr(row, column.name) for column in row.__table__.columns}


def _texts(rows: dict[str, Any]) -> list[dict[str, str]]:
    return [{"language": t.language, "title": t.title, "body": t.body} for t in rows.values()]


def _rules(settings: Settings) -> MeetingRules:
    return MeetingRules.of(settings)


def _read(session: Session, meeting: Meeting, settings: Settings, now) -> dict[str, Any]:
    rules = _rules(settings)
    questions = reading.questions_of(session, meeting)
    wordings = reading.question_texts_of(session, [q.id for q in questions])
    documents = reading.documents_of(session, meeting)
    return {
        **_fields(meeting),
        "phase": phase(meeting, now),
        "total_area_m2": None if meeting.total_area_m2 is None else meeting.total_area_m2.quantize(CENT),
        "texts": _texts(reading.texts_of(session, [meeting.id]).get(meeting.id, {})),
        "questions": [
            {
                **_fields(q),
                "rule": rules.thresholds[q.kind].describe(),
                "texts": _texts(wordings.get(q.id, {})),
            }
            for q in questions
        ],
        "documents": [
            {**_fields(d), "url": f"/api/v1/meetings/{meeting.id}/documents/{d.id}"} for d in documents
        ],
    }


@router.get("/meetings", response_model=Page[MeetingSummary])
def list_meetings(
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    now: Now,
    paging: Paging,
    building_id: Annotated[Id | None, Query()] = None,
    state: Annotated[MeetingStatus | None, Query(alias="status")] = None,
):
    """The meetings the actor sees, the latest vote first; by building and status."""
    query = visible_meetings(actor, today)
    if building_id is not None:
        query = query.where(Meeting.building_id == building_id)
    if state is not None:
        query = query.where(Meeting.status == state)
    rows, total = counted_page(
        session,
        query,
        col(Meeting.voting_starts).desc(),
        col(Meeting.id).desc(),
        limit=paging.limit,
        offset=paging.offset,
    )
    meetings = [row[0] for row in rows]
    texts = reading.texts_of(session, [m.id for m in meetings])
    items = []
    for meeting in meetings:
        language, text = pick(texts[meeting.id], _language(actor))
        items.append(
            {**_fields(meeting), "phase": phase(meeting, now), "title": text.title, "language": language}
        )
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.post(
    "/meetings",
    response_model=MeetingRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        403, why={403: "Officials only read; staff draft in their company's buildings, owners in their own"}
    ),
)
def draft_meeting(
    body: MeetingCreate, session: SessionDep, actor: CurrentActor, settings: SettingsDep, now: Now
):
    """The building's managing company (a manager) or an admin drafts a meeting; an owner of the
    building drafts an owners' initiative, which owners sign before it may be published."""
    meeting = drafting.draft_meeting(
        session,
        actor,
        building_id=body.building_id,
        texts={t.language: (t.title, t.body) for t in body.texts},
        voting_starts=body.voting_starts,
        voting_ends=body.voting_ends,
        now=now,
    )
    return _read(session, meeting, settings, now)


@router.get("/meetings/{meeting_id}", response_model=MeetingRead)
def read_meeting(session: SessionDep, meeting: VisibleMeeting, settings: SettingsDep, now: Now):
    return _read(session, meeting, settings, now)


@router.patch("/meetings/{meeting_id}", response_model=MeetingRead, responses=WRITE)
def update_meeting(
    body: MeetingUpdate,
    session: SessionDep,
    actor: CurrentActor,
    meeting: VisibleMeeting,
    settings: SettingsDep,
    now: Now,
):
    """Texts and the voting period, before publishing (and before owners sign an initiative)."""
    drafting.update_meeting(
        session,
        actor,
        meeting,
        texts=None if body.texts is None else {t.language: (t.title, t.body) for t in body.texts},
        voting_starts=body.voting_starts,
        voting_ends=body.voting_ends,
        now=now,
    )
    return _read(session, meeting, settings, now)


@router.post(
    "/meetings/{meeting_id}/questions",
    response_model=QuestionRead,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
def add_question(
    body: QuestionCreate,
    session: SessionDep,
    actor: CurrentActor,
    meeting: VisibleMeeting,
    settings: SettingsDep,
    now: Now,
):
    """A question at the end of the agenda, before publishing."""
    question = drafting.add_question(
        session,
        actor,
        meeting,
        kind=body.kind,
        texts={t.language: (t.title, t.body) for t in body.texts},
        company_id=body.company_id,
        fee_minor=body.fee_minor,
        effective_from=body.effective_from,
        now=now,
    )
    wordings = reading.question_texts_of(session, [question.id]).get(question.id, {})
    rule = _rules(settings).thresholds[question.kind].describe()
    return {**_fields(question), "rule": rule, "texts": _texts(wordings)}


def _visible(session: Session, actor: Actor, today: date, meeting_id: int) -> Meeting:
    found = session.exec(visible_meetings(actor, today).where(Meeting.id == meeting_id)).first()
    if found is None:
        raise NotFound(f"meeting {meeting_id} not found")
    return found


def _part_of(model: type, label: str):
    """A dependency loading a meeting's document, question or proxy: both path ids are checked
    before anything is read, then the meeting within the actor's sight, then the row on it."""

    def load(
        meeting_id: Id,
        item_id: Annotated[Id, Path(alias=f"{label}_id")],
        session: SessionDep,
        actor: CurrentActor,
        today: Today,
    ) -> tuple[Meeting, Any]:
        meeting = _visible(session, actor, today, meeting_id)
        row = session.get(model, item_id)
        if row is None or row.meeting_id != meeting.id:
            raise NotFound(f"{label} {item_id} not found on meeting {meeting.id}")
        return meeting, row

    return load


MeetingQuestionDep = Annotated[
    tuple[Meeting, MeetingQuestion], Depends(_part_of(MeetingQuestion, "question"))
]
MeetingDocumentDep = Annotated[
    tuple[Meeting, MeetingDocument], Depends(_part_of(MeetingDocument, "document"))
]
MeetingProxyDep = Annotated[tuple[Meeting, MeetingProxy], Depends(_part_of(MeetingProxy, "proxy"))]


@router.delete(
    "/meetings/{meeting_id}/questions/{question_id}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE
)
def remove_question(found: MeetingQuestionDep, session: SessionDep, actor: CurrentActor, now: Now) -> None:
    drafting.remove_question(session, actor, found[1], now=now)


@router.post(
    "/meetings/{meeting_id}/documents",
    response_model=MeetingRead,
    status_code=status.HTTP_201_CREATED,
    responses=UPLOAD,
)
def attach_document(
    title: Annotated[Text, Form(min_length=1, max_length=200)],
    file: Annotated[UploadFile, File(description="A PDF, or a JPEG, PNG or WebP image")],
    session: SessionDep,
    actor: CurrentActor,
    meeting: VisibleMeeting,
    settings: SettingsDep,
    now: Now,
    question_id: Annotated[Id | None, Form()] = None,
):
    """A document of the agenda (the proposed contract, an estimate), for one question or all."""
    if not title.strip():
        raise Invalid("title must not be blank", field="title")
    drafting.attach_document(
        session,
        actor,
        meeting,
        title=title.strip(),
        data=_read_upload(file, settings),
        question_id=question_id,
        settings=settings,
        now=now,
    )
    return _read(session, meeting, settings, now)


def _read_upload(file: UploadFile, settings: Settings) -> bytes:
    # One byte over the limit is enough for the service to refuse it as too large.
    return file.file.read(settings.meetings.max_document_bytes + 1)


def _file(data: bytes, content_type: str, name: str) -> Response:
    # A download under its checked type, so a browser never runs it as a page.
    return Response(
        data, media_type=content_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/meetings/{meeting_id}/documents/{document_id}",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/*": {}}, "description": "The document"}},
)
def download_document(found: MeetingDocumentDep, settings: SettingsDep):
    document = found[1]
    data = reading.read_document(document, settings=settings)
    return _file(data, document.content_type, document.file)


@router.post("/meetings/{meeting_id}/publish", response_model=MeetingRead, responses=WRITE)
def publish(
    session: SessionDep, actor: CurrentActor, meeting: VisibleMeeting, settings: SettingsDep, now: Now
):
    """Checks the agenda, the notice and the period (an initiative: its signatures), fixes the
    record date and the roll, and notifies every owner, in one transaction."""
    meeting = publishing.publish_meeting(session, actor, meeting, settings=settings, now=now)
    return _read(session, meeting, settings, now)


@router.post("/meetings/{meeting_id}/cancel", response_model=MeetingRead, responses=WRITE)
def cancel(
    body: CancelIn,
    session: SessionDep,
    actor: CurrentActor,
    meeting: VisibleMeeting,
    settings: SettingsDep,
    now: Now,
):
    """Before voting starts, with the reason."""
    publishing.cancel_meeting(session, actor, meeting, reason=body.reason.strip(), now=now)
    return _read(session, meeting, settings, now)


def _support(
    session: Session, meeting: Meeting, settings: Settings, today: date, signatures: int
) -> dict[str, Any]:
    signed, total = publishing.initiative_support(session, meeting, today=today)
    share = _rules(settings).initiative_share
    return {
        "signed_m2": shown(signed),
        "total_m2": shown(total),
        "signed_percent": shown(percent(signed, total)),
        "needed_percent": shown(share * 100),
        "enough": total > 0 and signed >= share * total,
        "signatures": signatures,
    }


@router.get("/meetings/{meeting_id}/signatures", response_model=SupportRead)
def initiative_support(session: SessionDep, meeting: VisibleMeeting, settings: SettingsDep, today: Today):
    """An owners' initiative's signatures so far against the share it needs to be published."""
    return _support(session, meeting, settings, today, 0)


@router.post(
    "/meetings/{meeting_id}/signatures",
    response_model=SupportRead,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE,
)
def sign(
    session: SessionDep,
    actor: CurrentActor,
    meeting: VisibleMeeting,
    settings: SettingsDep,
    today: Today,
    now: Now,
):
    """An owner signs an owners' initiative for each of their shares in the building."""
    signed = publishing.sign_initiative(session, actor, meeting, now=now)
    return _support(session, meeting, settings, today, len(signed))


def _ballot(ballot: Ballot) -> dict[str, Any]:
    return {**_fields(ballot), "receipt": chain.receipt_of(ballot.hash)}


@router.get("/meetings/{meeting_id}/my-entries", response_model=list[VoterEntryRead])
def my_entries(session: SessionDep, actor: CurrentActor, meeting: VisibleMeeting):
    """The roll entries the actor votes for now: their own shares (unless an accepted proxy
    holds one) and those they hold an accepted proxy for, each with its ballot if cast."""
    return [
        {
            "voter_id": e.voter_id,
            "apartment_id": e.apartment_id,
            "apartment_number": e.apartment_number,
            "owner_name": e.owner_name,
            "share": as_text(e.share),
            "weight_m2": shown(e.weight),
            "weight_exact": as_text(e.weight),
            "as_proxy": e.as_proxy,
            "proxy_id": e.proxy_id,
            "ballot": None if e.ballot is None else _ballot(e.ballot),
        }
        for e in voting.voter_entries(session, actor, meeting)
    ]


@router.post(
    "/meetings/{meeting_id}/ballots",
    response_model=BallotRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        409, why={409: "Outside the voting period, or this share already has a ballot (`detail` names it)"}
    ),
)
def cast_ballot(
    body: BallotCreate, session: SessionDep, actor: CurrentActor, meeting: VisibleMeeting, now: Now
):
    """An owner's (or their accepted proxy's) ballot for one roll entry; the answer carries the
    receipt to find it in the published register."""
    ballot = voting.cast_ballot(
        session, actor, meeting, voter_id=body.voter_id, answers=body.choices(), now=now
    )
    return _ballot(ballot)


def _paper_answers(answers: list[str]) -> dict[int, Choice]:
    """`12=for` for each question: its id, then for, against or abstain."""
    found: dict[int, Choice] = {}
    for index, answer in enumerate(answers):
        if len(answer) > 40 or not answer.isprintable():
            raise Invalid("write each answer as question id=choice, such as 12=for", field=f"answers.{index}")
        question, _, choice = answer.partition("=")
        question = question.strip()
        if (
            not (question.isascii() and question.isdigit() and len(question) <= 10)
            or int(question) > 2**31 - 1
        ):
            raise Invalid(
                f"answer {answer!r}: write question id=choice, such as 12=for", field=f"answers.{index}"
            )
        if choice.strip() not in {c.value for c in Choice}:
            raise Invalid(
                f"answer {answer!r}: the choice is for, against or abstain", field=f"answers.{index}"
            )
        if int(question) in found:
            raise Invalid(f"question {question} is answered twice", field=f"answers.{index}")
        found[int(question)] = Choice(choice.strip())
    return found


@router.post(
    "/meetings/{meeting_id}/paper-ballots",
    response_model=BallotRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(409, 413, 415),
)
def enter_paper_ballot(
    voter_id: Annotated[Id, Form()],
    answers: Annotated[list[Text], Form(description="One per question: question id=choice, such as 12=for")],
    scan: Annotated[UploadFile, File(description="The signed paper ballot: a PDF or an image")],
    session: SessionDep,
    actor: CurrentActor,
    meeting: VisibleMeeting,
    settings: SettingsDep,
    now: Now,
):
    """Staff enter a signed paper ballot with its scan; kept with who entered it."""
    if len(answers) > 50:
        raise Invalid("at most 50 answers", field="answers")
    ballot = voting.enter_paper_ballot(
        session,
        actor,
        meeting,
        voter_id=voter_id,
        answers=_paper_answers(answers),
        scan=_read_upload(scan, settings),
        settings=settings,
        now=now,
    )
    return _ballot(ballot)


@router.get("/meetings/{meeting_id}/roll", response_model=list[RollEntryRead])
def roll(session: SessionDep, actor: WatcherActor, meeting: VisibleMeeting):
    """Staff and officials: who votes (the roll fixed at publishing), whether each has voted;
    staff enter a paper ballot or a proxy for a `voter_id` from here."""
    query = (
        select(MeetingVoter, Apartment.number, Person.full_name, Ballot.id)
        .join(Apartment, col(Apartment.id) == MeetingVoter.apartment_id)
        .join(Person, col(Person.id) == MeetingVoter.person_id)
        .outerjoin(Ballot, col(Ballot.voter_id) == MeetingVoter.id)
        .where(MeetingVoter.meeting_id == meeting.id)
        .order_by(MeetingVoter.id)
    )
    entries = []
    for voter, number, name, ballot_id in session.exec(query):
        weight = rules_weight(voter.share_numerator, voter.share_denominator, voter.area_m2)
        entries.append(
            {
                "voter_id": voter.id,
                "apartment_id": voter.apartment_id,
                "apartment_number": number,
                "owner_person_id": voter.person_id,
                "owner_name": name,
                "share": as_text(Fraction(voter.share_numerator, voter.share_denominator)),
                "weight_m2": shown(weight),
                "weight_exact": as_text(weight),
                "voted": ballot_id is not None,
            }
        )
    return entries


@router.get("/meetings/{meeting_id}/proxies", response_model=list[ProxyRead])
def list_proxies(session: SessionDep, actor: WatcherActor, meeting: VisibleMeeting):
    """Staff and officials: every power of attorney submitted, pending, accepted or rejected."""
    return reading.proxies_of(session, meeting)


@router.post(
    "/meetings/{meeting_id}/proxies",
    response_model=ProxyRead,
    status_code=status.HTTP_201_CREATED,
    responses=UPLOAD,
)
def submit_proxy(
    voter_id: Annotated[Id, Form()],
    proxy_person_id: Annotated[Id, Form()],
    document: Annotated[UploadFile, File(description="The power of attorney: a PDF or an image")],
    session: SessionDep,
    actor: CurrentActor,
    meeting: VisibleMeeting,
    settings: SettingsDep,
    now: Now,
):
    """Staff, or the owner of that roll entry, upload a power of attorney; staff then accept or
    reject it."""
    return voting.submit_proxy(
        session,
        actor,
        meeting,
        voter_id=voter_id,
        proxy_person_id=proxy_person_id,
        document=_read_upload(document, settings),
        settings=settings,
        now=now,
    )


@router.get(
    "/meetings/{meeting_id}/proxies/{proxy_id}/document",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}, "image/*": {}}, "description": "The power of attorney"}
    },
)
def proxy_document(actor: WatcherActor, found: MeetingProxyDep, settings: SettingsDep):
    proxy = found[1]
    return _file(reading.read_file(proxy.file, settings=settings), proxy.content_type, proxy.file)


@router.post("/meetings/{meeting_id}/proxies/{proxy_id}/decision", response_model=ProxyRead, responses=WRITE)
def decide_proxy(
    body: ProxyDecision, found: MeetingProxyDep, session: SessionDep, actor: CurrentActor, now: Now
):
    """Staff accept a power of attorney (the proxy then votes for that share instead of the
    owner) or reject it, saying why."""
    proxy = found[1]
    voting.decide_proxy(session, actor, proxy, accept=body.accept, reason=body.reason.strip(), now=now)
    return proxy


@router.get("/meetings/{meeting_id}/turnout", response_model=TurnoutRead)
def turnout(session: SessionDep, meeting: VisibleMeeting, settings: SettingsDep):
    """The weight voted so far against all votes and the quorum; never how anyone voted."""
    seen = closing.turnout(session, meeting, settings=settings)
    return {
        "cast_m2": shown(seen.cast),
        "total_m2": shown(seen.total),
        "quorum_m2": shown(seen.quorum_needed),
        "cast_percent": shown(percent(seen.cast, seen.total)),
        "quorum_reached": seen.quorum_reached,
        "ballots": seen.ballots,
        "roll": seen.roll,
        "cast_exact": as_text(seen.cast),
        "total_exact": as_text(seen.total),
    }


def _results(session: Session, meeting: Meeting, counted: Count, actor: Actor, settings: Settings) -> dict:
    rules = _rules(settings)
    questions = {q.id: q for q in reading.questions_of(session, meeting)}
    wordings = reading.question_texts_of(session, list(questions))

    def share(part: Fraction, whole: Fraction):
        return shown(percent(part, whole))

    results = []
    for q in counted.questions:
        question = questions[q.question_id]
        results.append(
            {
                "question_id": q.question_id,
                "position": question.position,
                "kind": q.kind,
                "rule": rules.thresholds[q.kind].describe(),
                "title": _title(wordings.get(q.question_id), actor),
                "votes_for_m2": shown(q.votes_for),
                "votes_against_m2": shown(q.votes_against),
                "votes_abstain_m2": shown(q.votes_abstain),
                "for_percent_of_all": share(q.votes_for, counted.total),
                "against_percent_of_all": share(q.votes_against, counted.total),
                "abstain_percent_of_all": share(q.votes_abstain, counted.total),
                "for_percent_of_cast": share(q.votes_for, q.cast),
                "against_percent_of_cast": share(q.votes_against, q.cast),
                "abstain_percent_of_cast": share(q.votes_abstain, q.cast),
                "votes_for_exact": as_text(q.votes_for),
                "votes_against_exact": as_text(q.votes_against),
                "votes_abstain_exact": as_text(q.votes_abstain),
                "outcome": q.outcome,
            }
        )
    return {
        "final": MeetingStatus(meeting.status) is MeetingStatus.closed,
        "total_m2": shown(counted.total),
        "cast_m2": shown(counted.cast),
        "cast_percent": shown(counted.turnout_percent),
        "quorum": counted.quorum,
        "ballots": counted.ballots,
        "roll": counted.roll,
        "total_exact": as_text(counted.total),
        "cast_exact": as_text(counted.cast),
        "chain_head": meeting.chain_head,
        "questions": results,
    }


def _title(wordings: dict[str, Any] | None, actor: Actor) -> str:
    return pick(wordings, _language(actor))[1].title if wordings else ""


def _closed(meeting: Meeting) -> None:
    if MeetingStatus(meeting.status) is not MeetingStatus.closed:
        raise Conflict(
            f"meeting {meeting.id} is {meeting.status}: votes are shown after the close; its turnout shows"
            " how much has voted"
        )


@router.post(
    "/meetings/{meeting_id}/close",
    response_model=ResultsRead,
    responses=problems(409, why={409: "Voting has not ended, or the meeting is closed already"}),
)
def close(session: SessionDep, actor: CurrentActor, meeting: VisibleMeeting, settings: SettingsDep, now: Now):
    """After the vote ends: the count, the building's decisions, a company change in the
    register from its date, and a notice to every owner, in one transaction."""
    counted = closing.close_meeting(session, meeting, actor=actor, settings=settings, now=now)
    return _results(session, meeting, counted, actor, settings)


@router.get("/meetings/{meeting_id}/results", response_model=ResultsRead, responses=BEFORE_CLOSE)
def results(session: SessionDep, actor: CurrentActor, meeting: VisibleMeeting, settings: SettingsDep):
    """The count, once the meeting is closed: each question's votes in m2 and percent of all
    votes and of the votes cast, the quorum and the result."""
    _closed(meeting)
    counted = closing.meeting_count(session, meeting, settings=settings)
    return _results(session, meeting, counted, actor, settings)


def _row(row: receipts.RegisterRow, closed: bool) -> dict[str, Any]:
    return {
        "sequence": row.sequence,
        "apartment_number": row.apartment_number,
        "owner_name": row.owner_name,
        "share": as_text(row.share),
        "weight_m2": shown(row.weight),
        "channel": row.channel,
        "proxy_name": row.proxy_name,
        "choices": {str(q): c for q, c in row.choices.items()} if closed else {},
        "receipt": row.receipt,
        "hash": row.hash,
        "prev_hash": row.prev_hash,
        "cast_at": row.cast_at,
    }


@router.get("/meetings/{meeting_id}/register", response_model=RegisterRead, responses=BEFORE_CLOSE)
def register(session: SessionDep, actor: CurrentActor, meeting: VisibleMeeting):
    """The register of ballots in chain order, as the law makes it available to owners, with
    the chain's head (printed on the protocol) and whether every link checks out."""
    _closed(meeting)
    require_register_reader(session, actor, meeting)
    return {
        "chain_head": meeting.chain_head,
        "intact": receipts.verify_meeting_chain(session, meeting),
        "rows": [_row(row, True) for row in receipts.ballot_register(session, meeting)],
    }


@router.get("/meetings/{meeting_id}/receipts/{receipt}", response_model=RegisterRowRead)
def find_receipt(receipt: Receipt, session: SessionDep, actor: CurrentActor, meeting: VisibleMeeting):
    """The ballot a receipt names (its first 16 or more hex digits). While the vote runs it
    shows that the ballot is in the chain; its choices are shown after the close."""
    require_register_reader(session, actor, meeting)
    row = receipts.find_receipt(session, meeting, receipt)
    if row is None:
        raise NotFound(f"no ballot of meeting {meeting.id} has receipt {receipt}")
    return _row(row, MeetingStatus(meeting.status) is MeetingStatus.closed)


@router.get(
    "/meetings/{meeting_id}/protocol.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The protocol"}} | BEFORE_CLOSE,
)
def protocol(
    session: SessionDep,
    actor: CurrentActor,
    meeting: VisibleMeeting,
    settings: SettingsDep,
    language: Annotated[
        Language | None, Query(description="uz, ru or en; the reader's own by default")
    ] = None,
):
    """The protocol of a closed meeting as a PDF in one language: the questions, the votes in m2
    and percent, the quorum, the results, the register of ballots and the chain's head."""
    _closed(meeting)
    require_register_reader(session, actor, meeting)
    language = language or _language(actor)
    pdf = protocol_pdf(protocol_data(session, meeting, settings=settings), language)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="meeting-{meeting.id}-{language}.pdf"'},
    )


@router.get("/meetings/{meeting_id}/events", response_model=list[EventRead])
def events(session: SessionDep, actor: WatcherActor, meeting: VisibleMeeting):
    """Everything done to the meeting, with who and when: staff, admins and officials."""
    return reading.events_of(session, meeting)


@router.get("/city/meetings", response_model=CityMeetingsRead)
def city_report(
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    today: Today,
    paging: Paging,
    since: Since = None,
    until: Until = None,
    district_id: DistrictId = None,
):
    """Officials: meetings held (closed, the vote ended in the months from `since` to `until`;
    the last 12 by default), quorum reached, decisions by kind, company changes by district,
    and by company next to its latest quality score (companies paged)."""
    window = window_of(since, until, today, settings.timezone)
    report = city_meetings(session, window, district_id=district_id)
    page = describe(session, report.companies[paging.offset : paging.offset + paging.limit], window.until)
    return {
        "since": f"{window.since:%Y-%m}",
        "until": f"{window.until:%Y-%m}",
        "district_id": district_id,
        "meetings": report.meetings,
        "quorum": report.quorum,
        "decisions": report.decisions,
        "company_changes": report.company_changes,
        "kinds": report.kinds,
        "districts": report.districts,
        "companies": {
            "items": page,
            "total": len(report.companies),
            "limit": paging.limit,
            "offset": paging.offset,
        },
    }
