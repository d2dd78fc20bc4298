"""Notices from the outbox to an SMTP server, next to a bare smtplib loop; and what writing them
costs the monthly billing run.

    python bench/notify.py --apartments 100000 --workers 1 --runs 2 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/notifybench

The city is seeded as `bench/billing_run.py` seeds it (reused when it has the same number of
apartments); then one resident account per apartment (its first owner, languages uz/ru/en in
turn, an e-mail address in its notification settings), written set-based.

(1) the billing run of October 2026 (`billing.jobs.bill_period`, --workers) on the same city,
    --runs times each way, alternating: "off", every resident account inactive, so the run
    writes no notice; "on", the accounts active, so it writes an `invoice_issued` notice per
    account in each batch's transaction. Invoices are truncated between runs; the medians count.
(2) the notices of "on" to a local SMTP sink (aiosmtpd's Sink handler, `python -m aiosmtpd`,
    its own process): (a) baseline, a bare smtplib loop on one connection sending the same
    messages (rendered beforehand; composed by the channel's `compose`, text and HTML, inside
    the loop); (b) ours, sender steps (`send_due` with the e-mail channel, batch
    --batch-size, no quiet hours, no rate limit) until nothing is due: planning, claiming,
    rendering, composing, sending on one connection per batch, recording.

It prints the seconds and rates, (b)/(a) and on/off, and checks that every notice was sent.
Invoices, notices and deliveries are truncated at the end.
"""

import argparse
import smtplib
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.policy import SMTP
from pathlib import Path

from billing_run import PERIOD, TODAY, prepare
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session

import housing.migrations.tables  # noqa: F401 - every table, so a flush resolves keys across packages
from billing.jobs import bill_period
from housing.accounts.models import User
from housing.db import make_engine
from housing.i18n import LANGUAGES
from housing.notifications.channels.base import Outgoing
from housing.notifications.channels.email import EmailChannel, compose
from housing.notifications.messages import render
from housing.notifications.models import Delivery, DeliveryStatus, Notification
from housing.notifications.sender import send_due
from housing.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "bench-resident-"
console = Console(width=170)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", required=True, help="postgresql+psycopg://... of a scratch database"
    )
    parser.add_argument("--apartments", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="the billing run's worker processes")
    parser.add_argument("--runs", type=int, default=2, help="billing runs each way, alternating off and on")
    parser.add_argument("--batch-size", type=int, default=500, help="deliveries a sender step claims")
    parser.add_argument("--port", type=int, default=19101, help="the SMTP sink's loopback port")
    parser.add_argument("--reseed", action="store_true", help="replace the schema and seed again")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        console.print("[red]The benchmark measures PostgreSQL; give a postgresql+psycopg:// URL.[/red]")
        return 2
    console.print(prepare(args.database_url, args.apartments, args.reseed))
    settings = _settings(args)
    engine = make_engine(settings)
    try:
        console.print(f"{_accounts(engine):,} resident accounts with an e-mail address")
        offs, ons = [], []
        for _ in range(args.runs):  # alternating, so a change in the machine's load hits both
            for active, runs in ((False, offs), (True, ons)):
                _clear(engine)
                runs.append(_bill(engine, settings, args.workers, active=active))
        off, on = _median(offs), _median(ons)  # the last "on" left its notices for (2)
        sink = _sink(args.port)
        try:
            bare = _bare_loop(engine, settings)
            ours = _ours(engine, settings)
        finally:
            sink.terminate()
            sink.wait(10)
        _report(args, off, on, bare, ours)
        _clear(engine)
    finally:
        engine.dispose()
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        db={"url": args.database_url},
        notify={
            "smtp_host": "127.0.0.1",
            "smtp_port": args.port,
            "smtp_from": "My Home <noreply@myhome.test>",
            "site_url": "https://myhome.test",
            "batch_size": args.batch_size,
            "quiet_start": "00:00",  # no quiet hours: the figures are the sender's, not the clock's
            "quiet_end": "00:00",
            "email_rate_per_second": 1_000_000,  # the sink has no limit; pacing is measured apart
        },
    )


def _accounts(engine: Engine) -> int:
    """One resident account per apartment, its first owner's, with an e-mail for notifications."""
    with engine.begin() as connection:
        made = connection.execute(select(func.count()).where(User.username.like(f"{PREFIX}%"))).scalar_one()
        if made:
            return made
        connection.execute(
            text(f"""
            INSERT INTO user_account (username, password_hash, role, person_id, is_active, language,
                                      created_at, updated_at)
            SELECT '{PREFIX}' || person_id, 'not-a-hash', 'resident', person_id, true,
                   (ARRAY{list(LANGUAGES)!r})[1 + person_id % 3], now(), now()
            FROM (SELECT DISTINCT ON (apartment_id) person_id FROM ownership
                  ORDER BY apartment_id, id) first_owner
            ON CONFLICT (username) DO NOTHING""")
        )
        connection.execute(
            text(f"""
            INSERT INTO contact_settings (user_id, email, email_disabled, telegram_disabled,
                                          sms_disabled, updated_at)
            SELECT id, 'resident' || id || '@mail.myhome.test', '', '', '', now()
            FROM user_account WHERE username LIKE '{PREFIX}%'""")
        )
        return connection.execute(select(func.count()).where(User.username.like(f"{PREFIX}%"))).scalar_one()


def _clear(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE notification_delivery, notification CASCADE"))
        connection.execute(text("TRUNCATE invoice_line, ledger_entry, invoice CASCADE"))


def _bill(engine: Engine, settings: Settings, workers: int, *, active: bool) -> dict:
    with engine.begin() as connection:
        connection.execute(
            text(f"UPDATE user_account SET is_active = :active WHERE username LIKE '{PREFIX}%'"),
            {"active": active},
        )
        connection.execute(text("ANALYZE user_account"))
    console.print(f"billing with notices {'on' if active else 'off'} ...")
    started = time.perf_counter()
    summary = bill_period(engine, settings, PERIOD, TODAY, workers=workers)
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        notices = connection.execute(select(func.count()).select_from(Notification)).scalar_one()
        invoices = connection.execute(text("SELECT count(*) FROM invoice")).scalar_one()
    console.print(f"  {seconds:.1f} s, {invoices:,} invoices, {notices:,} notices")
    return {"seconds": seconds, "notices": notices, "invoices": invoices, "summary": summary}


def _median(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda run: run["seconds"])
    middle = ordered[(len(ordered) - 1) // 2 : len(ordered) // 2 + 1]
    return ordered[0] | {"seconds": sum(run["seconds"] for run in middle) / len(middle), "runs": len(runs)}


def _sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
            return sink
        except OSError:
            if sink.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the SMTP sink did not start on port {port}") from None
            time.sleep(0.1)


def _outgoing(engine: Engine, settings: Settings) -> list[Outgoing]:
    """The notices as the sender renders them, to the same addresses."""
    with Session(engine) as session:
        rows = session.execute(
            text("""SELECT n.id, n.kind, n.params, n.link, n.urgent, u.language, c.email
                    FROM notification n JOIN user_account u ON u.id = n.user_id
                    JOIN contact_settings c ON c.user_id = u.id ORDER BY n.id""")
        ).all()
    outgoing = []
    for id_, kind, params, link, urgent, language, email in rows:
        words = render(kind=kind, params=params, link=link, language=language, site_url=settings.notify.site_url,
                       timezone=settings.timezone)  # fmt: skip
        outgoing.append(Outgoing(id_, email, language, words.subject, words.text, words.url, urgent))
    return outgoing


def _bare_loop(engine: Engine, settings: Settings) -> dict:
    messages = _outgoing(engine, settings)
    console.print(f"(a) a bare smtplib loop sends {len(messages):,} messages ...")
    sender = "noreply@myhome.test"
    started = time.perf_counter()
    smtp = smtplib.SMTP(settings.notify.smtp_host, settings.notify.smtp_port)
    for message in messages:
        data = compose(message, settings.notify, "myhome.test").as_bytes(policy=SMTP)
        smtp.sendmail(sender, [message.address], data)
    smtp.quit()
    seconds = time.perf_counter() - started
    console.print(f"  {seconds:.1f} s")
    return {"seconds": seconds, "sent": len(messages)}


def _ours(engine: Engine, settings: Settings) -> dict:
    console.print("(b) sender steps with the e-mail channel ...")
    channel = EmailChannel(settings.notify)
    started = time.perf_counter()
    steps = 0
    while True:
        step = send_due(engine, settings, [channel], clock=lambda: datetime.now(UTC))
        steps += 1
        if not step.busy:
            break
    seconds = time.perf_counter() - started
    console.print(f"  {seconds:.1f} s")
    with engine.connect() as connection:
        sent = connection.execute(
            select(func.count()).select_from(Delivery).where(Delivery.status == DeliveryStatus.sent)
        ).scalar_one()
        other = connection.execute(
            select(func.count()).select_from(Delivery).where(Delivery.status != DeliveryStatus.sent)
        ).scalar_one()
    return {"seconds": seconds, "sent": sent, "not_sent": other, "steps": steps}


def _report(args, off: dict, on: dict, bare: dict, ours: dict) -> None:
    table = Table(title=f"{args.apartments:,} apartments, billing with {args.workers} worker(s), sender batch {args.batch_size}")  # fmt: skip
    for column in ("step", "notices", "seconds", "per second", "ratio"):
        table.add_column(column, justify="left" if column == "step" else "right")
    table.add_row(f"billing run, notices off (median of {off['runs']})", f"{off['notices']:,}", f"{off['seconds']:.1f}",
                  f"{off['invoices'] / off['seconds']:,.0f} invoices", "1.00")  # fmt: skip
    table.add_row(f"billing run, notices on (median of {on['runs']})", f"{on['notices']:,}", f"{on['seconds']:.1f}",
                  f"{on['invoices'] / on['seconds']:,.0f} invoices", f"{on['seconds'] / off['seconds']:.2f}")  # fmt: skip
    table.add_row("(a) baseline: bare smtplib loop", f"{bare['sent']:,}", f"{bare['seconds']:.1f}",
                  f"{bare['sent'] / bare['seconds']:,.0f} messages", "1.00")  # fmt: skip
    table.add_row("(b) outbox -> SMTP (send_due)", f"{ours['sent']:,}", f"{ours['seconds']:.1f}",
                  f"{ours['sent'] / ours['seconds']:,.0f} messages", f"{ours['seconds'] / bare['seconds']:.2f}")  # fmt: skip
    console.print(table)
    console.print(
        f"on: {on['summary']}\noff: {off['summary']}\nsender: {ours['steps']} steps, {ours['not_sent']} not sent"
    )
    if ours["sent"] != on["notices"] or ours["not_sent"]:
        raise SystemExit(f"{on['notices']:,} notices but {ours['sent']:,} sent and {ours['not_sent']} not")


if __name__ == "__main__":
    sys.exit(main())
