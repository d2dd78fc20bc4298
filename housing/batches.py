"""Scheduled work in batches of ids, one transaction per batch, a failing item skipped.

A job finds the ids due after the last one it saw (`due`) and hands each batch to `work`
in its own transaction. A batch that fails is rolled back and done again one id at a time,
so a failing item is logged with its id and skipped, the others are done, and the
summary counts the failures (`failures`); a second run finds nothing left to do. Used by
the sensors' jobs and the twin's grading.
"""

import logging
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session

from housing.db import session_scope

log = logging.getLogger(__name__)


def each_batch(
    engine: Engine,
    due: Callable[[Session, int], list[int]],
    work: Callable[[Session, list[int]], None],
    tallies: list[Counter[str]],
    what: str,
) -> tuple[int, list[int]]:
    """Runs `work` on each batch of ids that `due` finds (after the last id seen), one
    transaction per batch. A failing batch is rolled back and done again one id at a time,
    so a failing item is logged with its id and skipped while the others are done; the
    `tallies` count only what was committed. Returns (ids checked, ids that failed)."""
    checked, after, failed = 0, 0, []
    while True:
        with session_scope(engine) as session:
            ids = due(session, after)
        if not ids:
            return checked, failed
        after = ids[-1]
        checked += len(ids)
        if len(ids) == 1:
            single = f"{what} {ids[0]} failed: rolled back and skipped"
            if not attempt(engine, work, ids, tallies, single):
                failed.append(ids[0])
            continue
        batch = f"a batch of {len(ids)} {what}s (ids {ids[0]}..{after}) failed: doing it one at a time"
        if attempt(engine, work, ids, tallies, batch):
            continue
        for id_ in ids:
            if not attempt(engine, work, [id_], tallies, f"{what} {id_} failed: rolled back and skipped"):
                failed.append(id_)


def attempt(
    engine: Engine,
    work: Callable[[Session, list[int]], None],
    ids: list[int],
    tallies: list[Counter[str]],
    failure: str,
) -> bool:
    """One transaction of `work`; on an exception it is rolled back, `failure` logged, and False."""
    before = [Counter(tally) for tally in tallies]
    try:
        with session_scope(engine) as session:
            work(session, ids)
    except Exception:
        log.exception(failure)
        for tally, counts in zip(tallies, before, strict=True):  # forget what was rolled back
            tally.clear()
            tally.update(counts)
        return False
    return True


def failures(failed: list[int], what: str) -> str:
    """The summary's tail: how many items failed and their ids (the log has why)."""
    if not failed:
        return ""
    return f"; {len(failed)} failed ({what}{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))})"
