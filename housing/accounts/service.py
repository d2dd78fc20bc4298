"""Account verbs: users, login, tokens. Flush, never commit."""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import Session, select

from housing.accounts.models import COMPANY_ROLES, ApiToken, Role, TokenKind, User
from housing.accounts.passwords import Passwords
from housing.accounts.usernames import is_valid_username, normal_username
from housing.db import utcnow
from housing.errors import Conflict, Invalid, NotFound, Unauthorized
from housing.registry.models import ManagementCompany, Person

MIN_PASSWORD_LENGTH = 10


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_scope(session: Session, role: Role, company_id: int | None, person_id: int | None) -> None:
    """A user's role decides which scope it needs: company staff a company, residents a person."""
    if role in COMPANY_ROLES:
        if company_id is None:
            raise Invalid(f"a {role.value} needs a company_id", field="company_id")
        if session.get(ManagementCompany, company_id) is None:
            raise Invalid(f"company {company_id} does not exist", field="company_id")
    elif company_id is not None:
        raise Invalid(f"a {role.value} is not tied to a company", field="company_id")
    if role is Role.resident and person_id is None:
        raise Invalid("a resident needs a person_id", field="person_id")
    if person_id is not None and session.get(Person, person_id) is None:
        raise Invalid(f"person {person_id} does not exist", field="person_id")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")


def create_user(
    session: Session,
    *,
    passwords: Passwords,
    username: str,
    password: str,
    role: Role,
    company_id: int | None = None,
    person_id: int | None = None,
) -> User:
    username = normal_username(username)
    if not is_valid_username(username):
        raise Invalid("a user name has 3 to 150 letters a-z, digits or the signs _ . @ + -", field="username")
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"user name {username!r} is taken", field="username")
    _check_password(password)
    _check_scope(session, role, company_id, person_id)
    user = User(
        username=username,
        password_hash=passwords.hash(password),
        role=role,
        company_id=company_id,
        person_id=person_id,
    )
    session.add(user)
    session.flush()
    return user


def update_user(
    session: Session,
    user: User,
    *,
    passwords: Passwords,
    password: str | None = None,
    is_active: bool | None = None,
    role: Role | None = None,
    company_id: int | None = None,
    person_id: int | None = None,
) -> User:
    """Changes what is given; a new password, a new role or blocking ends all sessions."""
    if role is not None:
        # A new role comes with its whole scope, so no stale company or person lingers.
        _check_scope(session, role, company_id, person_id)
        user.role, user.company_id, user.person_id = role, company_id, person_id
        revoke_all_tokens(session, user.id)
    if password is not None:
        _check_password(password)
        user.password_hash = passwords.hash(password)
    if is_active is not None:
        user.is_active = is_active
    if password is not None or is_active is False:
        # A new password or a blocked account ends every session and token at once.
        revoke_all_tokens(session, user.id)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, passwords: Passwords, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == normal_username(username))).first()
    if user is None or not user.is_active or not passwords.verify(user.password_hash, password):
        raise Unauthorized("wrong user name or password")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
        session.add(user)
    return user


def issue_token(
    session: Session, user: User, *, kind: TokenKind, lifetime: timedelta, name: str = ""
) -> tuple[str, ApiToken]:
    """Returns the token itself (shown once) and its stored record."""
    token = secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id,
        token_hash=token_digest(token),
        kind=kind,
        name=name,
        expires_at=utcnow() + lifetime,
    )
    session.add(record)
    session.flush()
    return token, record


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> tuple[User, ApiToken]:
    now = now or utcnow()
    row = session.exec(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_digest(token))
    ).first()
    if row is None:
        raise Unauthorized("unknown token")
    record, user = row
    if record.revoked_at is not None or record.expires_at <= now or not user.is_active:
        raise Unauthorized("token expired or revoked")
    return user, record


def revoke_token(session: Session, *, user_id: int, token_id: int) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None or record.user_id != user_id:
        raise NotFound(f"token {token_id} not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.add(record)
        session.flush()
    return record


def revoke_all_tokens(session: Session, user_id: int | None) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def purge_expired_tokens(session: Session, *, older_than: timedelta = timedelta(days=30)) -> int:
    """Deletes tokens that expired or were revoked long enough ago to be of no audit use."""
    cutoff = utcnow() - older_than
    result = session.execute(
        delete(ApiToken).where(or_(ApiToken.expires_at < cutoff, ApiToken.revoked_at < cutoff))
    )
    return result.rowcount or 0


def choose_language(session: Session, *, user_id: int, language: str, offered: tuple[str, ...]) -> User:
    """Remembers the pages' language on the account, so every device the user signs in on uses it."""
    if language not in offered:
        raise Invalid(f"language must be one of {', '.join(offered)}", field="language")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    user.language = language
    session.add(user)
    session.flush()
    return user
