"""Announcement verbs: post one (with its notifications, in the caller's transaction), attach a
file, mark it read, and read back texts and read counts. Flush, never commit.

Posting checks every rule before writing anything: the actor may post to that reach and
those buildings and entrances, the pin date is ahead, the attachment is an image or a PDF.
Then it writes the announcement and one notification per resident account it reaches, in
that resident's language when it was written in it (`announcement` or, urgent,
`announcement_urgent`, deduplicated per announcement).
"""

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Select, func, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from housing.accounts.models import User
from housing.actors import BUILDING_ANNOUNCERS, CITY_ANNOUNCERS, Actor
from housing.announcements import languages
from housing.announcements.attachments import FileKind, inspect_attachment
from housing.announcements.models import (
    Announcement,
    AnnouncementRead,
    AnnouncementTarget,
    AnnouncementText,
    Reach,
)
from housing.announcements.queries import postable_buildings
from housing.db import is_postgres
from housing.errors import Conflict, Forbidden, Invalid
from housing.notifications import recipients
from housing.notifications.models import Notification
from housing.notifications.service import Notice, notify_each
from housing.registry.models import Apartment, Building, District

PIN_AHEAD = timedelta(days=366)  # a pin longer than a year is a mistake, not a plan


@dataclass(frozen=True)
class Wording:
    title: str
    body: str


@dataclass(frozen=True)
class Target:
    building_id: int
    entrance: int | None = None


@dataclass(frozen=True)
class Attachment:
    data: bytes
    directory: Path
    max_bytes: int


def post_announcement(
    session: Session,
    *,
    actor: Actor,
    texts: Mapping[str, Wording],
    reach: Reach,
    targets: Iterable[Target] = (),
    district_id: int | None = None,
    urgent: bool = False,
    pinned_until: date | None = None,
    attachment: Attachment | None = None,
    notice_chars: int,
    today: date,
    now: datetime,
) -> Announcement:
    """Checks, then writes the announcement, its texts, targets, file and notifications."""
    targets = sorted(set(targets), key=lambda t: (t.building_id, t.entrance or 0))
    _check_reach(session, actor, reach, targets, district_id, today)
    texts = {language: wording for language, wording in texts.items() if language in languages.WRITTEN_IN}
    if not texts or any(not w.title.strip() or not w.body.strip() for w in texts.values()):
        raise Invalid("write the title and text in at least one of uz, ru, en", field="texts")
    if pinned_until is not None and not today <= pinned_until <= today + PIN_AHEAD:
        raise Invalid("pin it until a day from today to a year ahead", field="pinned_until")
    kind = inspect_attachment(attachment.data, max_bytes=attachment.max_bytes) if attachment else None
    announcement = Announcement(
        author_id=actor.user_id,
        company_id=actor.company_id,
        reach=reach,
        district_id=district_id if reach is Reach.district else None,
        urgent=urgent,
        pinned_until=pinned_until,
        created_at=now,
    )
    session.add(announcement)
    session.flush()
    for language, wording in texts.items():
        session.add(
            AnnouncementText(
                announcement_id=announcement.id,
                language=language,
                title=wording.title.strip(),
                body=wording.body,
            )
        )
    for target in targets:
        session.add(
            AnnouncementTarget(
                announcement_id=announcement.id, building_id=target.building_id, entrance=target.entrance
            )
        )
    if attachment is not None and kind is not None:
        _store(announcement, attachment, kind)
    announcement.recipients = _notify(session, announcement, texts, targets, notice_chars, today, now)
    session.add(announcement)
    session.flush()
    return announcement


def _check_reach(
    session: Session, actor: Actor, reach: Reach, targets: list[Target], district_id: int | None, today: date
) -> None:
    if reach is Reach.buildings:
        if actor.role not in BUILDING_ANNOUNCERS:
            raise Forbidden(f"a {actor.role.value} posts to a district or the city, not to buildings")
        if not targets:
            raise Invalid("choose at least one building", field="targets")
        _check_targets(session, actor, targets, today)
        return
    if actor.role not in CITY_ANNOUNCERS:
        raise Forbidden(
            f"a {actor.role.value} posts to their company's buildings, not to a district or the city"
        )
    if targets:
        raise Invalid(f"a {reach.value}-wide announcement names no buildings", field="targets")
    if reach is Reach.district and (district_id is None or session.get(District, district_id) is None):
        raise Invalid(f"district {district_id} does not exist", field="district_id")


def _check_targets(session: Session, actor: Actor, targets: list[Target], today: date) -> None:
    wanted = {t.building_id for t in targets}
    allowed = set(session.exec(postable_buildings(actor, today).where(col(Building.id).in_(wanted))))
    refused = sorted(wanted - allowed)
    if refused:
        raise Invalid(f"building {refused[0]} is not one of the buildings you may post to", field="targets")
    entrances = {t for t in targets if t.entrance is not None}
    if not entrances:
        return
    found = set(
        session.exec(
            select(Apartment.building_id, Apartment.entrance)
            .where(col(Apartment.building_id).in_({t.building_id for t in entrances}))
            .distinct()
        )
    )
    for target in entrances:
        if (target.building_id, target.entrance) not in found:
            raise Invalid(f"building {target.building_id} has no entrance {target.entrance}", field="targets")


def attach_file(session: Session, announcement: Announcement, attachment: Attachment) -> Announcement:
    """Adds the file to an announcement that has none (the API posts the text first)."""
    if announcement.attachment_file is not None:
        raise Conflict("this announcement already has its attachment")
    kind = inspect_attachment(attachment.data, max_bytes=attachment.max_bytes)
    _store(announcement, attachment, kind)
    session.add(announcement)
    session.flush()
    return announcement


def _store(announcement: Announcement, attachment: Attachment, kind: FileKind) -> None:
    """Writes the file under a random name before the commit: a failed commit leaves an
    unserved file behind, never a row without its file."""
    name = f"{announcement.id}-{secrets.token_hex(12)}.{kind.extension}"
    attachment.directory.mkdir(parents=True, exist_ok=True)
    (attachment.directory / name).write_bytes(attachment.data)
    announcement.attachment_file = name
    announcement.attachment_type = kind.content_type
    announcement.attachment_bytes = len(attachment.data)


def audience(reach: Reach, targets: list[Target], district_id: int | None, today: date) -> Select:
    """The resident accounts an announcement reaches: the user ids, as a query."""
    if reach is Reach.city:
        return recipients.users_of_district(None, today)
    if reach is Reach.district:
        return recipients.users_of_district(district_id, today)
    whole = [t.building_id for t in targets if t.entrance is None]
    parts = [recipients.users_of_buildings(whole, today)] if whole else []
    by_building: dict[int, list[int]] = {}
    for target in targets:
        if target.entrance is not None and target.building_id not in whole:
            by_building.setdefault(target.building_id, []).append(target.entrance)
    parts += [recipients.users_of_buildings([b], today, entrances=e) for b, e in by_building.items()]
    return parts[0] if len(parts) == 1 else union(*parts)


def _notify(
    session: Session,
    announcement: Announcement,
    texts: Mapping[str, Wording],
    targets: list[Target],
    notice_chars: int,
    today: date,
    now: datetime,
) -> int:
    users = audience(Reach(announcement.reach), targets, announcement.district_id, today).subquery()
    readers = session.execute(select(User.id, User.language).where(col(User.id).in_(select(users.c[0]))))
    notices = []
    for user_id, language in readers:
        _, wording = languages.pick(texts, language)
        text = wording.body if len(wording.body) <= notice_chars else wording.body[: notice_chars - 1] + "…"
        params = {"title": wording.title.strip(), "text": text, "announcement_id": announcement.id}
        notices.append(Notice(user_id, params, f"/notices/announcements/{announcement.id}"))
    kind = "announcement_urgent" if announcement.urgent else "announcement"
    notify_each(session, notices, kind=kind, dedupe=dedupe_key(announcement.id), now=now)
    return len(notices)


def dedupe_key(announcement_id: int) -> str:
    return f"announcement:{announcement_id}"


def mark_read(session: Session, announcement: Announcement, *, user_id: int, now: datetime) -> bool:
    """Records the first time a resident opens it, and marks its notification read; True if new."""
    dialect = postgresql if is_postgres(session) else sqlite
    table = AnnouncementRead.__table__
    statement = (
        dialect.insert(table)
        .values(announcement_id=announcement.id, user_id=user_id, read_at=now)
        .on_conflict_do_nothing(index_elements=["announcement_id", "user_id"])
        .returning(table.c.id)
    )
    new = session.execute(statement).first() is not None
    session.execute(
        update(Notification)
        .where(
            Notification.dedupe_key == f"{dedupe_key(announcement.id)}:{user_id}",
            col(Notification.read_at).is_(None),
        )
        .values(read_at=now)
    )
    return new


def texts_of(session: Session, announcement_ids: Iterable[int]) -> dict[int, dict[str, AnnouncementText]]:
    """Each announcement's texts by language, in one query."""
    found: dict[int, dict[str, AnnouncementText]] = {}
    ids = list(announcement_ids)
    if not ids:
        return found
    for text in session.exec(select(AnnouncementText).where(col(AnnouncementText.announcement_id).in_(ids))):
        found.setdefault(text.announcement_id, {})[text.language] = text
    return found


def targets_of(session: Session, announcement_id: int) -> list[AnnouncementTarget]:
    query = select(AnnouncementTarget).where(AnnouncementTarget.announcement_id == announcement_id)
    return list(session.exec(query.order_by(AnnouncementTarget.building_id, AnnouncementTarget.entrance)))


def read_counts(session: Session, announcement_ids: Iterable[int]) -> dict[int, int]:
    """How many residents have opened each announcement, in one query."""
    ids = list(announcement_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(AnnouncementRead.announcement_id, func.count())
        .where(col(AnnouncementRead.announcement_id).in_(ids))
        .group_by(AnnouncementRead.announcement_id)
    )
    return {announcement_id: count for announcement_id, count in rows}


def read_ids(session: Session, user_id: int, announcement_ids: Iterable[int]) -> set[int]:
    """Which of these announcements the user has opened."""
    ids = list(announcement_ids)
    if not ids:
        return set()
    query = select(AnnouncementRead.announcement_id).where(
        AnnouncementRead.user_id == user_id, col(AnnouncementRead.announcement_id).in_(ids)
    )
    return set(session.exec(query))
