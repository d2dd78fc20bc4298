"""Who is asking, apart from any web framework: the actor and the named sets of roles.

Services and scoping queries take an `Actor`; `housing.auth` builds one from a request and
turns each role set below into a route guard. A rule like "who may file a request" is one
set here, not a tuple repeated at each route.
"""

from dataclasses import dataclass

from housing.accounts.models import CITY_ROLES, COMPANY_ROLES, Role, User


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    role: Role
    company_id: int | None
    person_id: int | None
    token_id: int
    language: str | None = None  # the pages' language the user chose; None: not chosen yet

    @classmethod
    def of(cls, user: "User", token_id: int = 0) -> "Actor":
        """The user as services and scoping queries know them; `token_id` 0 when no token speaks
        for them (the Telegram chat, seeding, the command line)."""
        return cls(
            user_id=user.id,
            username=user.username,
            role=Role(user.role),
            company_id=user.company_id,
            person_id=user.person_id,
            token_id=token_id,
            language=user.language,
        )

    @property
    def is_company_staff(self) -> bool:
        return self.role in COMPANY_ROLES

    @property
    def sees_whole_city(self) -> bool:
        return self.role in CITY_ROLES


ADMINS = frozenset({Role.admin})
RESIDENTS = frozenset({Role.resident})
# The city dashboard: officials read the whole city, admins too.
CITY_READERS = frozenset({Role.official, Role.admin})
# The company console: a company's staff within their scope, admins anywhere.
STAFF = frozenset({Role.admin}) | COMPANY_ROLES
# Who may change the register: admins anywhere, company managers within their scope.
REGISTRARS = frozenset({Role.admin, Role.manager})
# Who dispatches requests and declares outages.
DISPATCHERS = frozenset({Role.admin, Role.manager, Role.dispatcher})
# Who takes a resident's call and files it for them.
CALL_TAKERS = frozenset({Role.manager, Role.dispatcher})
# Who may file a request: residents for themselves, call takers for a caller.
FILERS = RESIDENTS | CALL_TAKERS
# The two sides of a request's conversation.
PARTICIPANTS = STAFF | RESIDENTS
# Who watches meters: the staff and the city.
WATCHERS = STAFF | CITY_READERS
# Who reads a meter's readings: the staff and the apartment's residents.
METER_READERS = STAFF | RESIDENTS
# Who posts announcements: company managers and dispatchers to their buildings, officials to a
# district or the city, admins anywhere.
BUILDING_ANNOUNCERS = frozenset({Role.admin}) | DISPATCHERS
CITY_ANNOUNCERS = frozenset({Role.admin, Role.official})
ANNOUNCERS = BUILDING_ANNOUNCERS | CITY_ANNOUNCERS
# Who books a building's expenses and publishes its quarterly report: company managers for the
# buildings their company manages, admins anywhere.
BOOKKEEPERS = frozenset({Role.admin, Role.manager})
