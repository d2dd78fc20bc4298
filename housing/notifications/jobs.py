"""Scheduled delivery: `send-notifications` runs sender steps until nothing is due (or a minute passed).

The same steps run as a process of their own with `housing notifications send`; both may
run at once (claims do not overlap), so a busy month can add senders.
"""

import logging
import threading
import time
from datetime import datetime

from sqlalchemy import Engine

from housing import clock
from housing.notifications.channels import open_channels
from housing.notifications.sender import Step, send_due
from housing.settings import Settings

log = logging.getLogger(__name__)
BUDGET_S = 55  # the job is scheduled every minute; a longer backlog continues at the next run


def send_notifications(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    """Sender steps until one finds nothing to do. `now` freezes the clock (tests, catch-up by hand)."""
    channels = open_channels(settings)
    total = Step()
    started = time.monotonic()
    try:
        while time.monotonic() - started < BUDGET_S:
            step = send_due(engine, settings, channels, clock=(lambda: now) if now else clock.now)
            _add(total, step)
            if not step.busy:
                break
    finally:
        for channel in channels:
            channel.close()
    return summary(total)


def run_sender(
    engine: Engine, settings: Settings, *, stop: threading.Event, once: bool = False, idle_s: float = 2.0
) -> Step:
    """The sender as a process of its own: steps while there is work, `idle_s` waits when there is
    none, until `stop` is set (SIGTERM: the step under way records its outcomes first). A step
    that fails is logged and tried again after the wait. `once` returns at the first step that
    finds nothing to do."""
    channels = open_channels(settings)
    if not channels:
        log.warning("no channel is configured (HOUSING_NOTIFY__SMTP_HOST, ...): only planning")
    total = Step()
    try:
        while not stop.is_set():
            try:
                step = send_due(engine, settings, channels, clock=clock.now)
            except Exception:  # the database away, a claim lost to another sender: try again soon
                log.exception("a sender step failed; trying again in %s s", idle_s)
                stop.wait(idle_s)
                continue
            _add(total, step)
            if step.busy:
                log.info(summary(step))
            elif once:
                break
            else:
                stop.wait(idle_s)
    finally:
        for channel in channels:
            channel.close()
    return total


def summary(total: Step) -> str:
    sent = ", ".join(f"{count} by {name}" for name, count in sorted(total.sent.items())) or "none sent"
    return (
        f"{total.planned} notifications planned; {sent}; {total.retried} to retry, {total.failed} failed,"
        f" {total.interrupted} interrupted"
    )


def _add(total: Step, step: Step) -> None:
    total.planned += step.planned
    for name, count in step.sent.items():
        total.sent[name] = total.sent.get(name, 0) + count
    total.retried += step.retried
    total.failed += step.failed
    total.interrupted += step.interrupted
