"""Writing a daily job's notices in batches, one transaction each, isolating a failing item.

A batch that fails is rolled back and done again one item at a time, so a failing item
(an invoice, a meter) is logged with its id and skipped while the others are written; a
later run tries it again, and the notices' dedupe keys make whatever was written stay once.
`record_progress` records the day a job finished, also when another copy records it at once.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from housing.catchup import service as catchup
from housing.db import session_scope

log = logging.getLogger(__name__)

BATCH = 500


def write_isolated(
    engine: Engine,
    ids: Sequence[int],
    work: Callable[[Session, list[int]], int],
    what: str,
    batch: int = BATCH,
) -> tuple[int, list[int]]:
    """`work(session, ids)` over the ids in batches; (what it returned, summed, the ids that failed)."""
    written, failed = 0, []
    for start in range(0, len(ids), batch):
        chunk = list(ids[start : start + batch])
        try:
            with session_scope(engine) as session:
                written += work(session, chunk)
            continue
        except Exception:
            if len(chunk) == 1:
                log.exception("%s %s failed: rolled back and skipped", what, chunk[0])
                failed.append(chunk[0])
                continue
            log.exception("a batch of %d %ss failed: doing it one at a time", len(chunk), what)
        for id_ in chunk:
            try:
                with session_scope(engine) as session:
                    written += work(session, [id_])
            except Exception:
                log.exception("%s %s failed: rolled back and skipped", what, id_)
                failed.append(id_)
    return written, failed


def record_progress(engine: Engine, job: str, through: date) -> None:
    """`catchup.mark_done` in a transaction of its own; a second copy of the job that inserted the
    job's first row at the same moment makes this one update it instead."""
    for attempt in range(2):
        try:
            with session_scope(engine) as session:
                catchup.mark_done(session, job, through)
            return
        except IntegrityError:
            if attempt:
                raise
