# ruff: noqa: RUF001 - the Russian texts are Cyrillic on purpose
"""The demo city's announcements: a pinned one and an urgent one from the demo resident's
management company, and a city-wide one from the demo official. Once: a database that has
announcements gets none. Posted through the service, so the demo resident finds them in
the inbox with their notifications, unread.
"""

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.announcements import service
from housing.announcements.models import Announcement, Reach
from housing.clock import local_today
from housing.db import session_scope, utcnow
from housing.registry.models import Apartment
from housing.registry.queries import home_apartment_ids
from housing.registry.seeding import demo_username
from housing.settings import Settings

W = service.Wording
LIFT = {
    "uz": W(
        "Liftga texnik xizmat", "Lift seshanba kuni 10:00 dan 13:00 gacha ishlamaydi. Noqulaylik uchun uzr."
    ),
    "ru": W("Обслуживание лифта", "Во вторник с 10:00 до 13:00 лифт не работает. Приносим извинения."),
    "en": W(
        "Lift maintenance",
        "The lift is out of service on Tuesday from 10:00 to 13:00. Sorry for the trouble.",
    ),
}
WATER = {
    "uz": W("Sovuq suv o'chiriladi", "Quvur ta'miri sababli bugun 18:00 gacha sovuq suv bo'lmaydi."),
    "ru": W("Отключение холодной воды", "Из-за ремонта трубы сегодня до 18:00 не будет холодной воды."),
}
HEATING = {
    "uz": W(
        "Isitish mavsumi boshlandi",
        "Toshkentda isitish mavsumi boshlandi. Radiatorlar sovuq bo'lsa, murojaat qoldiring.",
    ),
    "ru": W(
        "Начался отопительный сезон",
        "В Ташкенте начался отопительный сезон. Если батареи холодные, оставьте заявку.",
    ),
    "en": W(
        "The heating season has started",
        "Heating is on across Tashkent. If your radiators stay cold, file a request.",
    ),
}


def _user(session: Session, role: Role) -> User | None:
    return session.exec(select(User).where(User.username == demo_username(role))).first()


def seed_demo_announcements(engine: Engine, settings: Settings) -> str:
    with session_scope(engine) as session:
        if session.exec(select(Announcement.id).limit(1)).first() is not None:
            return "demo announcements already there"
        manager, dispatcher = _user(session, Role.manager), _user(session, Role.dispatcher)
        official, resident = _user(session, Role.official), _user(session, Role.resident)
        if None in (manager, dispatcher, official, resident) or resident.person_id is None:
            return "no demo users to post demo announcements"
        today, now = local_today(settings.timezone), utcnow()
        homes = home_apartment_ids(resident.person_id, today).subquery()
        home = session.exec(select(Apartment).where(Apartment.id.in_(select(homes.c.apartment_id)))).first()
        if home is None:
            return "the demo resident has no home to post demo announcements to"
        common = {"notice_chars": settings.announcements.notice_chars, "today": today}
        here = [service.Target(home.building_id)]
        posts = [
            (official, HEATING, Reach.city, [], {}, now - timedelta(days=3)),
            (
                manager,
                LIFT,
                Reach.buildings,
                here,
                {"pinned_until": today + timedelta(days=14)},
                now - timedelta(days=1),
            ),
            (dispatcher, WATER, Reach.buildings, here, {"urgent": True}, now - timedelta(hours=2)),
        ]
        for author, texts, reach, targets, extra, at in posts:
            service.post_announcement(
                session,
                actor=Actor.of(author),
                texts=texts,
                reach=reach,
                targets=targets,
                now=at,
                **common,
                **extra,
            )
    return f"{len(posts)} demo announcements posted (one pinned, one urgent, one city-wide)"
