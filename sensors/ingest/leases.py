"""Which ingest process serves which partition session: leases that die with their holder.

The broker sessions belong to slots (the 16 v2 partitions and the v1 topics), and a slot
is served by at most one process at a time, the one that holds its lease. Every running
process is also a member, so each can compute its fair share of the slots.

- PostgreSQL: session-level advisory locks on one dedicated connection. A process that
  dies, or loses that connection, loses its locks at once; `pg_locks` lists the members.
- SQLite (one machine by nature): `flock` on small files next to the database file,
  released by the kernel when the process dies.

Keys: members are (crc32(session_prefix + "/members"), crc32(name)), slots are
(crc32(session_prefix + "/slots"), slot index), all in 0..2**31-1, per database.
"""

import contextlib
import fcntl
import os
import tempfile
import zlib
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text

from housing.db import is_postgres


class LeaseError(RuntimeError):
    """The process cannot join (another running process has the same name)."""


def _key(value: str) -> int:
    return zlib.crc32(value.encode()) & 0x7FFFFFFF


class Leases(Protocol):
    def join(self) -> None: ...
    def members(self) -> list[str]: ...
    def me(self) -> str: ...
    def try_claim(self, index: int) -> bool: ...
    def release(self, index: int) -> None: ...
    def alive(self) -> bool: ...
    def close(self) -> None: ...


def make_leases(engine: Engine, *, session_prefix: str, name: str) -> Leases:
    if is_postgres(engine):
        return PostgresLeases(engine, session_prefix=session_prefix, name=name)
    return FileLeases(engine, session_prefix=session_prefix, name=name)


class PostgresLeases:
    def __init__(self, engine: Engine, *, session_prefix: str, name: str) -> None:
        self.engine = engine
        self.name = name
        self.member_class = _key(f"{session_prefix}/members")
        self.slot_class = _key(f"{session_prefix}/slots")
        self.member_key = _key(name)
        self._connection: Connection | None = None

    def me(self) -> str:
        return f"{self.member_key:010d}"

    def join(self) -> None:
        """Opens the dedicated connection and takes the member lock; raises while the database is down."""
        self.close()
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": self.member_class, "o": self.member_key}
            ).scalar_one()
        except Exception:
            connection.invalidate()
            connection.close()
            raise
        if not taken:
            connection.invalidate()
            connection.close()
            raise LeaseError(f"another running ingest process is named {self.name!r}")
        self._connection = connection

    def _locks(self, lock_class: int) -> list[int]:
        assert self._connection is not None, "join() first"
        rows = self._connection.execute(
            text(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objsubid = 2 AND classid::bigint = :c "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"c": lock_class},
        )
        return sorted(row[0] for row in rows)

    def members(self) -> list[str]:
        return [f"{key:010d}" for key in self._locks(self.member_class)]

    def try_claim(self, index: int) -> bool:
        assert self._connection is not None, "join() first"
        return bool(
            self._connection.execute(
                text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": self.slot_class, "o": index}
            ).scalar_one()
        )

    def release(self, index: int) -> None:
        if self._connection is None:
            return
        self._connection.execute(
            text("SELECT pg_advisory_unlock(:c, :o)"), {"c": self.slot_class, "o": index}
        )

    def alive(self) -> bool:
        """True while the connection holding the locks works (a lost connection lost them all)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            return True
        except Exception:
            self.close()
            return False

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Releases every lock now, then ends the database session (a plain close() would
            # hand the session, locks and all, back to the pool); a broken one has lost them.
            with contextlib.suppress(Exception):
                connection.execute(text("SELECT pg_advisory_unlock_all()"))
            with contextlib.suppress(Exception):
                connection.invalidate()
            with contextlib.suppress(Exception):
                connection.close()


class FileLeases:
    def __init__(self, engine: Engine, *, session_prefix: str, name: str) -> None:
        database = engine.url.database
        if database and database != ":memory:":
            base = Path(f"{database}.ingest-locks")
        else:
            base = Path(tempfile.gettempdir()) / "housing-ingest-locks"
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_prefix)
        self.directory = base / safe
        self.name = name
        self._member: int | None = None
        self._slots: dict[int, int] = {}

    def _file(self, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return self.directory / f"{safe}.lock"

    @staticmethod
    def _try_lock(path: Path) -> int | None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def me(self) -> str:
        return self.name

    def join(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = self._try_lock(self._file(f"member-{self.name}"))
        if fd is None:
            raise LeaseError(f"another running ingest process is named {self.name!r}")
        self._member = fd

    def members(self) -> list[str]:
        alive = [self.name]
        for path in self.directory.glob("member-*.lock"):
            name = path.name.removeprefix("member-").removesuffix(".lock")
            if path == self._file(f"member-{self.name}"):
                continue
            fd = self._try_lock(path)
            if fd is None:
                alive.append(name)  # locked: its process runs
            else:
                os.close(fd)  # a process that ended: not a member
        return sorted(alive)

    def try_claim(self, index: int) -> bool:
        if index in self._slots:
            return True
        fd = self._try_lock(self._file(f"slot-{index:02d}"))
        if fd is None:
            return False
        self._slots[index] = fd
        return True

    def release(self, index: int) -> None:
        fd = self._slots.pop(index, None)
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock

    def alive(self) -> bool:
        return self._member is not None

    def close(self) -> None:
        for index in list(self._slots):
            self.release(index)
        if self._member is not None:
            os.close(self._member)
            self._member = None
