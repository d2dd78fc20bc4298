"""Announcements as a reader sees them: the text in their language, read or not, read counts.

Loads what a list shows in a fixed number of queries (texts, reads, counts), whatever its length.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from housing.actors import Actor
from housing.announcements import languages, service
from housing.announcements.models import Announcement, AnnouncementText
from housing.registry.models import Building, District


@dataclass(frozen=True)
class Shown:
    announcement: Announcement
    language: str
    title: str
    body: str
    texts: list[AnnouncementText]
    read: bool | None  # residents: opened it or not
    read_count: int | None  # staff and officials: residents who opened it

    def pinned(self, today: date) -> bool:
        until = self.announcement.pinned_until
        return until is not None and until >= today

    @property
    def attachment_url(self) -> str | None:
        if self.announcement.attachment_file is None:
            return None
        return f"/api/v1/announcements/{self.announcement.id}/attachment"


def show(session: Session, announcements: Sequence[Announcement], actor: Actor, language: str) -> list[Shown]:
    ids = [a.id for a in announcements]
    texts = service.texts_of(session, ids)
    resident = actor.role.value == "resident"
    read = service.read_ids(session, actor.user_id, ids) if resident else set()
    counts = {} if resident else service.read_counts(session, ids)
    shown = []
    for announcement in announcements:
        mine = texts.get(announcement.id, {})
        chosen, text = languages.pick(mine, language)
        shown.append(
            Shown(
                announcement=announcement,
                language=chosen,
                title=text.title,
                body=text.body,
                texts=[mine[code] for code in languages.WRITTEN_IN if code in mine],
                read=announcement.id in read if resident else None,
                read_count=None if resident else counts.get(announcement.id, 0),
            )
        )
    return shown


def pinned_first(shown: list[Shown], today: date) -> list[Shown]:
    """Pinned ones first, each group newest first (the order the list was loaded in)."""
    return sorted(shown, key=lambda s: not s.pinned(today))


def where_names(session: Session, announcement: Announcement) -> list[tuple[str, int | None]]:
    """What an announcement reaches, as a page names it: (address, entrance or None) of each
    target, or the district's name; nothing for the city."""
    if announcement.district_id is not None:
        district = session.get(District, announcement.district_id)
        return [(district.name, None)] if district else []
    targets = service.targets_of(session, announcement.id)
    addresses = dict(
        session.execute(
            select(Building.id, Building.address).where(
                col(Building.id).in_([t.building_id for t in targets])
            )
        ).all()
    )
    return [(addresses.get(t.building_id, "?"), t.entrance) for t in targets]
