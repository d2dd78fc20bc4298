"""A generated Tashkent-like city, written in bulk, and one demo login for every role.

Rows go in through SQLAlchemy Core executemany, a few thousand apartments (with their
buildings, people, shares and residences) per transaction, so 100,000 apartments take
seconds where row-by-row ORM inserts would take many minutes. The same seed on the same
database gives the same city; running again adds another batch beside the first, with
new tax ids, addresses, account numbers and PINFLs that collide with nothing stored.

Longer than 500 lines because the city's shape (districts, block names, building sizes)
and the one bulk writer that turns it into rows belong together: `_CityWriter`'s steps
share the batch's ids and counters, and split apart they would pass all of it around.
"""

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, cast, func, insert, text
from sqlmodel import Session, select

from housing.accounts.models import COMPANY_ROLES, Role, User
from housing.accounts.passwords import Passwords
from housing.accounts.service import create_user, update_user
from housing.clock import local_today
from housing.db import is_postgres, utcnow
from housing.errors import NotFound
from housing.registry.models import (
    Apartment,
    Building,
    BuildingManagement,
    District,
    ManagementCompany,
    Ownership,
    Person,
    Residence,
)
from housing.registry.periods import in_force
from housing.settings import Settings

CHUNK_APARTMENTS = 5000
APARTMENTS_PER_COMPANY = 600
MANAGED_FROM = date(2020, 1, 1)
LAST_MOVE_IN = date(2025, 10, 31)
ACCOUNT_NUMBER_START = 1_000_000_000  # ten digits, above anything typed in by hand
DEMO_APARTMENTS = 3000
DEMO_COMPANIES = 5
DEMO_ROLES = (Role.admin, Role.official, Role.manager, Role.dispatcher, Role.technician, Role.resident)


def demo_username(role: Role) -> str:
    return f"demo-{role.value}"


# The city. Centres are approximate; a place with "{n}" is a numbered block (mavze).


@dataclass(frozen=True)
class _District:
    name: str
    latitude: float
    longitude: float
    places: tuple[tuple[str, int], ...]  # (name, how many numbered blocks; 0 for a street)


TASHKENT = (
    _District("Bektemir", 41.209, 69.334, (
        ("Suvsoz massivi", 0), ("Husayn Boyqaro ko'chasi", 0), ("Bektemir ko'chasi", 0),
    )),
    _District("Chilonzor", 41.275, 69.204, (
        ("Chilonzor {n}-mavze", 28), ("Bunyodkor shoh ko'chasi", 0), ("Muqimiy ko'chasi", 0),
        ("Qatortol ko'chasi", 0),
    )),
    _District("Mirobod", 41.292, 69.282, (
        ("Taras Shevchenko ko'chasi", 0), ("Shahrisabz ko'chasi", 0), ("Oybek ko'chasi", 0),
        ("Mirobod ko'chasi", 0), ("Afrosiyob ko'chasi", 0),
    )),
    _District("Mirzo Ulug'bek", 41.330, 69.335, (
        ("Qorasuv-{n} massivi", 6), ("Buyuk Ipak Yo'li massivi", 0), ("Mirzo Ulug'bek ko'chasi", 0),
        ("Ahmad Donish ko'chasi", 0),
    )),
    _District("Olmazor", 41.345, 69.215, (
        ("Qoraqamish {n}-mavze", 4), ("Farobiy ko'chasi", 0), ("Beruniy ko'chasi", 0),
        ("Sag'bon ko'chasi", 0),
    )),
    _District("Sergeli", 41.225, 69.225, (
        ("Sergeli {n}-mavze", 8), ("Yangi Sergeli ko'chasi", 0), ("Sergeli ko'chasi", 0),
    )),
    _District("Shayxontohur", 41.322, 69.243, (
        ("Navoiy ko'chasi", 0), ("Zarqaynar ko'chasi", 0), ("Abdulla Qodiriy ko'chasi", 0),
        ("Samarqand Darvoza ko'chasi", 0),
    )),
    _District("Uchtepa", 41.295, 69.170, (
        ("Uchtepa {n}-mavze", 6), ("Lutfiy ko'chasi", 0), ("Foziltepa ko'chasi", 0),
        ("Ali Qushchi ko'chasi", 0),
    )),
    _District("Yakkasaroy", 41.285, 69.255, (
        ("Bobur ko'chasi", 0), ("Shota Rustaveli ko'chasi", 0), ("Kichik Halqa yo'li", 0),
        ("Abdulla Qahhor ko'chasi", 0),
    )),
    _District("Yashnobod", 41.295, 69.335, (
        ("Tuzel {n}-mavze", 4), ("Aviasozlar {n}-mavze", 4), ("Maxtumquli ko'chasi", 0),
        ("Parkent ko'chasi", 0),
    )),
    _District("Yangihayot", 41.210, 69.190, (
        ("Yangihayot {n}-mavze", 10), ("Zangiota ko'chasi", 0), ("Istiqbol ko'chasi", 0),
    )),
    _District("Yunusobod", 41.365, 69.285, (
        ("Yunusobod {n}-mavze", 19), ("Amir Temur shoh ko'chasi", 0), ("Bog'ishamol ko'chasi", 0),
        ("Bodomzor yo'li", 0),
    )),
)  # fmt: skip

LATITUDE_RANGE = (41.2, 41.4)
LONGITUDE_RANGE = (69.1, 69.4)

MALE_NAMES = (
    "Abdulla", "Akmal", "Alisher", "Anvar", "Aziz", "Bekzod", "Bobur", "Botir", "Davron", "Dilshod",
    "Doniyor", "Eldor", "Farrux", "Islom", "Jahongir", "Jamshid", "Javohir", "Kamoliddin", "Laziz",
    "Mansur", "Muhammad", "Nodir", "Otabek", "Oybek", "Ravshan", "Rustam", "Sanjar", "Sardor",
    "Shavkat", "Sherzod", "Shohruh", "Temur", "Ulug'bek", "Umid", "Xurshid", "Zafar",
)  # fmt: skip
FEMALE_NAMES = (
    "Aziza", "Barno", "Dilfuza", "Dilnoza", "Feruza", "Gulchehra", "Gulnora", "Kamola", "Lola",
    "Madina", "Malika", "Mavluda", "Mohira", "Munisa", "Nargiza", "Nigora", "Nilufar", "Nodira",
    "Ozoda", "Robiya", "Sabina", "Sarvinoz", "Sevara", "Shahnoza", "Shoira", "Umida", "Yulduz",
    "Zarina", "Zilola",
)  # fmt: skip
SURNAMES = (  # masculine forms; the feminine adds "a"
    "Abdullayev", "Aliyev", "Azimov", "Boboyev", "Ergashev", "Fayzullayev", "Hamidov", "Hasanov",
    "Islomov", "Ismoilov", "Jo'rayev", "Karimov", "Latipov", "Mahmudov", "Mirzayev", "Murodov",
    "Nazarov", "Normatov", "Nurmatov", "Olimov", "Po'latov", "Qodirov", "Qosimov", "Rahimov",
    "Rashidov", "Saidov", "Salimov", "Sobirov", "Sultonov", "To'xtayev", "Tursunov", "Umarov",
    "Usmonov", "Valiyev", "Xolmatov", "Yo'ldoshev", "Yusupov", "Zokirov",
)  # fmt: skip
COMPANY_WORDS = (
    ("Obod", "Shinam", "Farovon", "Nurli", "Toza", "Yangi", "Barakali", "Orzu", "Bunyodkor", "Qulay"),
    ("Maskan", "Uy-Joy", "Makon", "Hovli", "Xonadon", "Diyor", "Servis", "Komfort"),
)
MOBILE_CODES = ("90", "91", "93", "94", "95", "97", "98", "99", "33", "88")
ROOMS = (1, 2, 3, 4, 5)
ROOM_WEIGHTS = (20, 35, 30, 12, 3)
AREA_BY_ROOMS = {1: (28, 45), 2: (40, 65), 3: (55, 85), 4: (70, 105), 5: (85, 120)}
RESIDENT_WEIGHTS = (8, 17, 25, 22, 16, 8, 4)  # 0..6 registered residents


# Generated rows before they have ids: positions tie them together.


@dataclass
class _Batch:
    buildings: list[dict[str, Any]] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)  # company id per building
    apartments: list[dict[str, Any]] = field(default_factory=list)
    apartment_building: list[int] = field(default_factory=list)  # building position per apartment
    people: list[dict[str, Any]] = field(default_factory=list)
    ownerships: list[tuple[int, int, int, date]] = field(default_factory=list)  # apt, person, denom, from
    residences: list[tuple[int, int, date]] = field(default_factory=list)  # apt, person, from


@dataclass
class _Counts:
    districts: int = 0
    companies: int = 0
    buildings: int = 0
    apartments: int = 0
    people: int = 0
    ownerships: int = 0
    residences: int = 0


class _CityWriter:
    """Holds what must stay unique across chunks: addresses, PINFLs, account numbers."""

    def __init__(self, connection: Connection, rng: random.Random, now: datetime) -> None:
        self.connection = connection
        self.rng = rng
        self.now = now
        self.counts = _Counts()
        self.district_ids: dict[str, int] = {}
        self.taken_addresses: set[tuple[int, str]] = set()
        self.seen_pinfls: set[str] = set()
        self.next_account = ACCOUNT_NUMBER_START
        self.pinfls_stored = False

    # Reference data

    def ensure_districts(self) -> None:
        existing = dict(self.connection.execute(select(District.name, District.id)).all())
        missing = [d.name for d in TASHKENT if d.name not in existing]
        if missing:
            rows = [self._stamped(name=name, city="Tashkent") for name in missing]
            ids = self._insert_with_ids(District, rows)
            existing.update(zip(missing, ids, strict=True))
        self.district_ids = {d.name: existing[d.name] for d in TASHKENT}
        self.counts.districts = len(missing)

    def load_taken(self) -> None:
        self.taken_addresses = set(
            self.connection.execute(select(Building.district_id, Building.address)).all()
        )
        col = Apartment.account_number
        top = self.connection.execute(
            select(func.max(cast(col, BigInteger))).where(col.regexp_match("^[0-9]{1,18}$"))
        ).scalar()
        self.next_account = max(ACCOUNT_NUMBER_START, (top or 0) + 1)
        self.pinfls_stored = (
            self.connection.execute(select(Person.id).where(Person.pinfl.is_not(None)).limit(1)).first()
            is not None
        )

    def insert_companies(self, how_many: int) -> list[int]:
        rng = self.rng
        taken_ids = set(self.connection.execute(select(ManagementCompany.tax_id)).scalars())
        taken_names = set(self.connection.execute(select(ManagementCompany.name)).scalars())
        homes = [d.name for d in TASHKENT]
        rng.shuffle(homes)
        rows = []
        for i in range(how_many):
            home = homes[i % len(homes)]
            name = self._company_name(home, taken_names)
            taken_names.add(name)
            tax_id = str(rng.randint(200_000_000, 399_999_999))
            while tax_id in taken_ids:
                tax_id = str(rng.randint(200_000_000, 399_999_999))
            taken_ids.add(tax_id)
            slug = "".join(ch for ch in name.split('"')[1].lower() if ch.isascii() and ch.isalnum())
            rows.append(
                self._stamped(
                    name=name,
                    tax_id=tax_id,
                    district_id=self.district_ids[home],
                    phone=f"+998 71 {rng.randint(200, 299)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}",
                    email=f"info@{slug}.uz",
                )
            )
        ids = self._insert_with_ids(ManagementCompany, rows)
        self.counts.companies = len(ids)
        return ids

    def _company_name(self, home: str, taken: set[str]) -> str:
        adjective, noun = self.rng.choice(COMPANY_WORDS[0]), self.rng.choice(COMPANY_WORDS[1])
        for name in (
            f'"{adjective} {noun}" MChJ',
            f'"{home} {adjective} {noun}" MChJ',
            f'"{home} {noun}" XUJMSh',
        ):
            if name not in taken:
                return name
        n = 2
        while f'"{adjective} {noun}-{n}" MChJ' in taken:
            n += 1
        return f'"{adjective} {noun}-{n}" MChJ'

    # Buildings and everything in them

    def plan(self, apartments: int, company_ids: list[int]) -> list[tuple[int, int, _District]]:
        """(apartment count, company id, district) per building; sizes 20-120, summing exactly."""
        rng = self.rng
        homes = dict(
            self.connection.execute(
                select(ManagementCompany.id, ManagementCompany.district_id).where(
                    ManagementCompany.id.in_(company_ids)
                )
            ).all()
        )
        by_id = {self.district_ids[d.name]: d for d in TASHKENT}
        order = list(company_ids)
        rng.shuffle(order)
        plans = []
        remaining = apartments
        while remaining > 0:
            if remaining <= 120:
                size = remaining
            else:  # mostly smaller blocks, the odd large one: about 60 on average
                upper = min(120, remaining - 20)
                size = round(rng.triangular(20, upper, min(40, upper)))
            company_id = order[len(plans) % len(order)]
            home = by_id.get(homes.get(company_id))
            district = home if home is not None and rng.random() < 0.75 else rng.choice(TASHKENT)
            plans.append((size, company_id, district))
            remaining -= size
        return plans

    def write(self, plans: Sequence[tuple[int, int, _District]], on_progress: Callable[[int], None]) -> None:
        done = pending = 0
        chunk: list[tuple[int, int, _District]] = []
        for plan in plans:
            chunk.append(plan)
            pending += plan[0]
            if pending >= CHUNK_APARTMENTS:
                done += self._write_chunk(chunk)
                on_progress(done)
                chunk, pending = [], 0
        if chunk:
            done += self._write_chunk(chunk)
            on_progress(done)

    def _write_chunk(self, plans: list[tuple[int, int, _District]]) -> int:
        batch = _Batch()
        for size, company_id, district in plans:
            self._add_building(batch, size, company_id, district)
        self._make_pinfls_unique(batch.people)

        conn = self.connection
        building_ids = self._insert_with_ids(Building, batch.buildings)
        conn.execute(
            insert(BuildingManagement),
            [
                {
                    "building_id": b,
                    "company_id": c,
                    "valid_from": MANAGED_FROM,
                    "valid_until": None,
                    "created_at": self.now,
                }
                for b, c in zip(building_ids, batch.managers, strict=True)
            ],
        )
        for row, position in zip(batch.apartments, batch.apartment_building, strict=True):
            row["building_id"] = building_ids[position]
        apartment_ids = self._insert_with_ids(Apartment, batch.apartments)
        person_ids = self._insert_with_ids(Person, batch.people)
        conn.execute(
            insert(Ownership),
            [
                {
                    "apartment_id": apartment_ids[a],
                    "person_id": person_ids[p],
                    "share_numerator": 1,
                    "share_denominator": denominator,
                    "valid_from": since,
                    "valid_until": None,
                    "created_at": self.now,
                }
                for a, p, denominator, since in batch.ownerships
            ],
        )
        conn.execute(
            insert(Residence),
            [
                {
                    "apartment_id": apartment_ids[a],
                    "person_id": person_ids[p],
                    "valid_from": since,
                    "valid_until": None,
                    "created_at": self.now,
                }
                for a, p, since in batch.residences
            ],
        )
        conn.commit()

        counts = self.counts
        counts.buildings += len(building_ids)
        counts.apartments += len(apartment_ids)
        counts.people += len(person_ids)
        counts.ownerships += len(batch.ownerships)
        counts.residences += len(batch.residences)
        return len(apartment_ids)

    def _add_building(self, batch: _Batch, size: int, company_id: int, district: _District) -> None:
        rng = self.rng
        per_floor = rng.choice((2, 3, 4))  # apartments per floor of one entrance
        floors = min(rng.randint(4, 16), max(4, math.ceil(size / per_floor)))
        per_entrance = floors * per_floor
        year_built = rng.randint(1960, 2024)
        position = len(batch.buildings)
        total_area = Decimal(0)
        for i in range(size):
            rooms = rng.choices(ROOMS, ROOM_WEIGHTS)[0]
            low, high = AREA_BY_ROOMS[rooms]
            area = Decimal(rng.randint(low * 100, high * 100)).scaleb(-2)
            total_area += area
            living = self._add_household(batch, len(batch.apartments), year_built)
            registered = max(living, rng.choices(range(7), RESIDENT_WEIGHTS)[0])
            batch.apartments.append(
                self._stamped(
                    building_id=None,
                    number=str(i + 1),
                    entrance=i // per_entrance + 1,
                    floor=i % per_entrance // per_floor + 1,
                    area_m2=area,
                    rooms=rooms,
                    registered_residents=min(registered, 6),
                    account_number=str(self.next_account),
                )
            )
            batch.apartment_building.append(position)
            self.next_account += 1
        district_id = self.district_ids[district.name]
        batch.buildings.append(
            self._stamped(
                address=self._address(district, district_id),
                district_id=district_id,
                latitude=_clamp(district.latitude + rng.uniform(-0.012, 0.012), LATITUDE_RANGE),
                longitude=_clamp(district.longitude + rng.uniform(-0.015, 0.015), LONGITUDE_RANGE),
                year_built=year_built,
                floors=floors,
                total_area_m2=total_area,
            )
        )
        batch.managers.append(company_id)

    def _address(self, district: _District, district_id: int) -> str:
        rng = self.rng
        tries = 0
        while True:
            place, blocks = rng.choice(district.places)
            if blocks:
                place = place.format(n=rng.randint(1, blocks))
            address = f"{place}, {rng.randint(1, 60 + 20 * tries)}-uy"
            if (district_id, address) not in self.taken_addresses:
                self.taken_addresses.add((district_id, address))
                return address
            tries += 1

    def _add_household(self, batch: _Batch, apartment: int, year_built: int) -> int:
        """Owners (one, or two with half each), who mostly live there, and maybe tenants."""
        rng = self.rng
        first = max(year_built, 1993)  # flats were privatised from 1993
        since = _random_day(rng, date(first, 1, 1), LAST_MOVE_IN)
        surname = rng.choice(SURNAMES)
        owners = [self._person(batch, surname, male=rng.random() < 0.55, born=(1945, 1990))]
        if rng.random() < 0.2:
            owners.append(
                self._person(batch, surname, male=not batch.people[owners[0]]["_male"], born=(1945, 1990))
            )
        for owner in owners:
            batch.ownerships.append((apartment, owner, len(owners), since))
        living = 0
        owners_live = rng.random() < 0.85
        if owners_live:
            for owner in owners:
                batch.residences.append((apartment, owner, since))
            living = len(owners)
        if rng.random() < (0.1 if owners_live else 0.5):
            family = rng.choice(SURNAMES)
            moved_in = _random_day(rng, max(since, date(2021, 1, 1)), LAST_MOVE_IN)
            for _ in range(rng.randint(1, 2 if owners_live else 3)):
                tenant = self._person(batch, family, male=rng.random() < 0.5, born=(1960, 2006))
                batch.residences.append((apartment, tenant, moved_in))
                living += 1
        return living

    def _person(self, batch: _Batch, surname: str, *, male: bool, born: tuple[int, int]) -> int:
        rng = self.rng
        birthday = _random_day(rng, date(born[0], 1, 1), date(born[1], 12, 31))
        father = rng.choice(MALE_NAMES)
        if male:
            full_name = f"{surname} {rng.choice(MALE_NAMES)} {father} o'g'li"
        else:
            full_name = f"{surname}a {rng.choice(FEMALE_NAMES)} {father} qizi"
        phone = None
        if rng.random() < 0.7:
            phone = (
                f"+998 {rng.choice(MOBILE_CODES)} {rng.randint(100, 999)}-"
                f"{rng.randint(10, 99)}-{rng.randint(10, 99)}"
            )
        pinfl = self._pinfl(male, birthday) if rng.random() < 0.6 else None
        batch.people.append(
            self._stamped(full_name=full_name, pinfl=pinfl, phone=phone, _male=male, _born=birthday)
        )
        return len(batch.people) - 1

    def _pinfl(self, male: bool, birthday: date) -> str:
        """Sex and century, birth date, issuing office, serial, check digit (weights 7-3-1)."""
        century = (3 if male else 4) if birthday.year < 2000 else (5 if male else 6)
        while True:
            body = f"{century}{birthday:%d%m%y}{self.rng.randint(260, 279):03d}{self.rng.randint(0, 999):03d}"
            check = sum(int(d) * (7, 3, 1)[i % 3] for i, d in enumerate(body)) % 10
            pinfl = f"{body}{check}"
            if pinfl not in self.seen_pinfls:
                self.seen_pinfls.add(pinfl)
                return pinfl

    def _make_pinfls_unique(self, people: list[dict[str, Any]]) -> None:
        """Re-draws the PINFLs an earlier run already stored, then drops the helper keys.

        Within one run PINFLs are unique by construction (seen_pinfls), so a database
        that held none when we started needs no look-up.
        """
        wanted = [p for p in people if p["pinfl"]] if self.pinfls_stored else []
        while wanted:
            stored = set(
                self.connection.execute(
                    select(Person.pinfl).where(Person.pinfl.in_([p["pinfl"] for p in wanted]))
                ).scalars()
            )
            wanted = [p for p in wanted if p["pinfl"] in stored]
            for person in wanted:
                person["pinfl"] = self._pinfl(person["_male"], person["_born"])
        for person in people:
            del person["_male"], person["_born"]

    # Helpers

    def _stamped(self, **row: Any) -> dict[str, Any]:
        row["created_at"] = row["updated_at"] = self.now
        return row

    def _insert_with_ids(self, model: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Inserts rows and returns their ids in the order given."""
        if not rows:
            return []
        if is_postgres(self.connection):
            # Ids drawn from the table's own sequence, then a plain pipelined executemany:
            # three times faster than a sorted INSERT ... RETURNING of the same rows.
            ids = list(
                self.connection.execute(
                    text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                    {"table": model.__tablename__, "n": len(rows)},
                ).scalars()
            )
            for row, id_ in zip(rows, ids, strict=True):
                row["id"] = id_
            self.connection.execute(insert(model), rows)
            return ids
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)
        return list(self.connection.execute(statement, rows).scalars())


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return round(min(max(value, bounds[0]), bounds[1]), 6)


def seed_city(
    engine: Engine,
    *,
    apartments: int,
    companies: int | None = None,
    on_progress: Callable[[int], None] = lambda done: None,
    rng_seed: int = 2026,
) -> str:
    """Adds a generated city of `apartments` apartments; returns a one-line summary.

    Commits once per chunk of about CHUNK_APARTMENTS apartments and reports the
    apartments written so far to on_progress after each.
    """
    if apartments < 1:
        raise ValueError("apartments must be at least 1")
    if companies is not None and companies < 1:
        raise ValueError("companies must be at least 1")
    companies = companies or max(1, round(apartments / APARTMENTS_PER_COMPANY))
    started = time.perf_counter()
    with engine.connect() as connection:
        existing = connection.execute(select(func.count()).select_from(Building)).scalar_one()
        # Mixing in what is already there makes a second batch differ from the first.
        writer = _CityWriter(connection, random.Random(f"{rng_seed}/{existing}"), utcnow())  # noqa: S311 - made-up data, not secrets
        writer.ensure_districts()
        writer.load_taken()
        company_ids = writer.insert_companies(companies)
        connection.commit()
        writer.write(writer.plan(apartments, company_ids), on_progress)
    c = writer.counts
    return (
        f"Seeded {c.apartments:,} apartments in {c.buildings:,} buildings managed by {c.companies:,} "
        f"companies ({c.districts} new districts, {c.people:,} people, {c.ownerships:,} ownership "
        f"shares, {c.residences:,} residences) in {time.perf_counter() - started:.1f} s"
    )


def ensure_demo_city(engine: Engine) -> bool:
    """Seeds the demo city into a database without buildings; True when it did."""
    with engine.connect() as connection:
        if connection.execute(select(Building.id).limit(1)).first() is not None:
            return False
    seed_city(engine, apartments=DEMO_APARTMENTS, companies=DEMO_COMPANIES)
    return True


def reset_demo_users(
    engine: Engine, settings: Settings, password_for: Callable[[str], str]
) -> list[tuple[str, str, str]]:
    """One user per role, named demo-<role>, with a fresh password and no live tokens.

    Staff belong to the first company that manages an owned apartment today; the
    resident is an owner of such an apartment. Returns (role, user name, password).
    """
    passwords = Passwords.from_settings(settings)
    today = local_today(settings.timezone)
    logins = []
    with Session(engine, expire_on_commit=False) as session:
        company_id, person_id = _demo_scope(session, today)
        for role in DEMO_ROLES:
            password = password_for(role.value)
            scope = {
                "company_id": company_id if role in COMPANY_ROLES else None,
                "person_id": person_id if role is Role.resident else None,
            }
            username = demo_username(role)
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None:
                create_user(
                    session, passwords=passwords, username=username, password=password, role=role, **scope
                )
            else:
                # Giving the role again resets its scope; the new password revokes every token.
                update_user(
                    session, user, passwords=passwords, password=password, is_active=True, role=role, **scope
                )
            logins.append((role.value, username, password))
        session.commit()
    return logins


def _demo_scope(session: Session, today: date) -> tuple[int, int]:
    row = session.exec(
        select(BuildingManagement.company_id, Ownership.person_id)
        .join(Apartment, Apartment.building_id == BuildingManagement.building_id)
        .join(Ownership, Ownership.apartment_id == Apartment.id)
        .where(in_force(BuildingManagement, today), in_force(Ownership, today))
        .order_by(BuildingManagement.company_id, Ownership.person_id)
        .limit(1)
    ).first()
    if row is None:
        raise NotFound("no company manages an owned apartment yet; run `housing seed` first")
    return row[0], row[1]
