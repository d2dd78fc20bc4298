"""The monthly billing run: one invoice per personal account (apartment) and month.

The verbs: `run_billing` (batch after batch: load the facts, draft the lines, number and
write under the lock), `draft_invoices` and `issue_invoices` (its two halves), `check_period`.
The parts: `prepared` (tariffs read once a run), `facts` (the batch queries), `lines`
(drafting from facts, no session), `numbering` (the lock), `writes` (bulk inserts).
The rules and worked cases: docs/billing-rules.md.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import exists, text
from sqlmodel import Session, select

from billing.ledger.penalties import due_date
from billing.models import Invoice
from billing.rules import DEFAULT_RULES, BillingRules
from billing.runs.facts import ApartmentRow, load_facts, unbilled_batch
from billing.runs.lines import DraftInvoice, draft_lines
from billing.runs.numbering import number_drafts, take_lock
from billing.runs.prepared import PreparedRun, month_bounds
from billing.runs.writes import InvoiceRows
from housing.db import among, is_postgres
from housing.errors import Invalid
from housing.registry.models import Apartment
from sensors.usage.consumption import DEFAULT_TIMEZONE

MAX_WARNINGS = 100


@dataclass
class RunSummary:
    period: date
    dry_run: bool
    locked_out: bool = False  # another run holds the lock: nothing was done
    issued: int = 0
    total_minor: int = 0
    without_manager: int = 0
    without_lines: int = 0
    failed: int = 0  # apartments held back, see warnings
    warning_count: int = 0
    warnings: list[str] = field(default_factory=list)  # the first MAX_WARNINGS
    # The would-be invoices of a dry run; a real run keeps only the counts (bounded memory).
    invoices: list[DraftInvoice] = field(default_factory=list)

    def warn(self, text: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)

    def __str__(self) -> str:
        if self.locked_out:
            return f"billing {self.period:%Y-%m}: skipped, another billing run holds the lock"
        verb = "would issue" if self.dry_run else "issued"
        text = (
            f"billing {self.period:%Y-%m}: {verb} {self.issued} invoices totalling {self.total_minor} tiyin"
        )
        if self.without_manager:
            text += f", {self.without_manager} apartments without a managing company"
        if self.without_lines:
            text += f", {self.without_lines} with nothing to bill"
        if self.failed:
            text += f", {self.failed} held back"
        if self.warning_count:
            text += f", {self.warning_count} warnings"
        return text


def run_billing(
    session: Session,
    *,
    period: date,
    today: date,
    dry_run: bool = False,
    apartment_ids: Sequence[int] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    wait: bool = False,
    prepared: PreparedRun | None = None,
    rules: BillingRules = DEFAULT_RULES,
) -> RunSummary:
    """Issues the period's missing invoices (flushes, never commits); docs/billing-rules.md, "The run".

    Each batch is drafted without the lock, then numbered and written under it. With `wait`
    the lock is waited for (at most `LOCK_WAIT`; other transactions hold it only while they
    number and write a batch); without it a run that finds the lock taken is locked out and
    writes nothing. `prepared` (`PreparedRun` of the same period and timezone) is what a
    caller billing batch after batch keeps between them; without it the run reads its own.
    `rules` are the configured norms, allowances and due day (`BillingRules.from_settings`).
    """
    check_period(period, today, timezone)
    summary = RunSummary(period=period, dry_run=dry_run)
    if prepared is None:
        prepared = PreparedRun(session, period, timezone, rules.tolerance)
    _run(session, summary, period, timezone, apartment_ids, wait=wait, prepared=prepared, rules=rules)
    return summary


def draft_invoices(
    session: Session,
    *,
    period: date,
    today: date,
    apartment_ids: Sequence[int],
    timezone: str = DEFAULT_TIMEZONE,
    rules: BillingRules = DEFAULT_RULES,
) -> tuple[RunSummary, list[DraftInvoice]]:
    """The unnumbered invoices of one batch of apartments, drafted without the lock; nothing is written.

    `issue_invoices` numbers and writes them. `run_billing` does both, batch by batch.
    """
    check_period(period, today, timezone)
    summary = RunSummary(period=period, dry_run=False)
    run = _context(
        session, summary, period, timezone, PreparedRun(session, period, timezone, rules.tolerance), rules
    )
    drafts: list[DraftInvoice] = []
    after = 0
    while batch := unbilled_batch(session, period, timezone, after, apartment_ids):
        after = batch[-1].id
        drafts.extend(_draft_batch(run, batch))
    return summary, drafts


def issue_invoices(
    session: Session,
    summary: RunSummary,
    drafts: list[DraftInvoice],
    *,
    wait: bool = False,
    timezone: str = DEFAULT_TIMEZONE,
    min_days_to_pay: int = DEFAULT_RULES.min_days_to_pay,
) -> bool:
    """Numbers and writes drafts under the lock, leaving out the apartments billed meanwhile.

    False, with nothing written, when the lock is taken and `wait` is not given.
    """
    return _issue(session, summary, drafts, {}, wait=wait, timezone=timezone, min_days_to_pay=min_days_to_pay)


def check_period(period: date, today: date, timezone: str = DEFAULT_TIMEZONE) -> None:
    """Raises Invalid unless `period` is a month's first day and the month has ended by `today`."""
    if period.day != 1:
        raise Invalid(f"a billing period is a month's first day, not {period.isoformat()}", field="period")
    _, end, _, _ = month_bounds(period, timezone)
    if end > today:
        raise Invalid(
            f"{period:%Y-%m} has not ended on {today.isoformat()}; bill it from {end}", field="period"
        )


def unbilled_apartment_ids(session: Session, period: date) -> list[int]:
    """Ids of the apartments without an invoice for the period, in id order."""
    billed = exists().where(Invoice.apartment_id == Apartment.id, Invoice.period == period)
    return list(session.exec(select(Apartment.id).where(~billed).order_by(Apartment.id)))


@dataclass
class _Context:
    """What every batch of a run shares: the prepared part, and this transaction's numbers."""

    session: Session
    summary: RunSummary
    prepared: PreparedRun
    rules: BillingRules
    # company -> the last invoice number used; filled under the lock (or in a dry run), which
    # a real run then holds to the end of its transaction, so the numbers stay its own
    sequences: dict[int, int] = field(default_factory=dict)

    @property
    def period(self) -> date:
        return self.prepared.period


def _context(
    session: Session,
    summary: RunSummary,
    period: date,
    timezone: str,
    prepared: PreparedRun | None,
    rules: BillingRules,
) -> _Context:
    if is_postgres(session):
        # Compiling each batch's queries costs more than it saves; ends with the transaction.
        session.execute(text("SET LOCAL jit = off"))
    if prepared is None:
        prepared = PreparedRun(session, period, timezone, rules.tolerance)
    elif (prepared.period, prepared.timezone) != (period, timezone):
        raise ValueError(
            f"prepared for {prepared.period:%Y-%m} in {prepared.timezone}, not {period:%Y-%m} in {timezone}"
        )
    return _Context(session, summary, prepared, rules)


def _run(
    session: Session,
    summary: RunSummary,
    period: date,
    timezone: str,
    apartment_ids: Sequence[int] | None,
    *,
    wait: bool,
    prepared: PreparedRun | None,
    rules: BillingRules,
) -> None:
    run = _context(session, summary, period, timezone, prepared, rules)
    after = 0
    while batch := unbilled_batch(session, period, timezone, after, apartment_ids):
        after = batch[-1].id
        drafts = _draft_batch(run, batch)
        if summary.dry_run:
            numbered = number_drafts(session, drafts, run.sequences)
            summary.issued += len(numbered)
            summary.total_minor += sum(d.total_minor for d in numbered)
            summary.invoices.extend(numbered)
        elif not _issue(
            session,
            summary,
            drafts,
            run.sequences,
            wait=wait,
            timezone=timezone,
            min_days_to_pay=rules.min_days_to_pay,
        ):
            summary.locked_out = True
            return


def _issue(
    session: Session,
    summary: RunSummary,
    drafts: list[DraftInvoice],
    sequences: dict[int, int],
    *,
    wait: bool,
    timezone: str = DEFAULT_TIMEZONE,
    min_days_to_pay: int = DEFAULT_RULES.min_days_to_pay,
) -> bool:
    """Takes the lock, leaves out what another run billed since the drafts were made, numbers, writes.

    The numbers are max + 1 read under the lock, which is held until the transaction ends,
    so no other transaction can number the same company and year before this one commits.
    The issue time (and from it the due date) is stamped under the lock as well, so a later
    number is never issued earlier. The ids and the lines' rows are made before the lock
    (they do not depend on numbers), so the lock covers only the check, the numbering and
    the writes.
    """
    if not drafts:
        return True
    rows = InvoiceRows(session, drafts)
    if not take_lock(session, wait=wait):
        return False
    billed = set(
        session.exec(
            select(Invoice.apartment_id).where(
                Invoice.period == drafts[0].period,
                among(session, Invoice.apartment_id, [d.apartment_id for d in drafts]),
            )
        )
    )
    numbered = number_drafts(session, [d for d in drafts if d.apartment_id not in billed], sequences)
    rows.write(session, numbered, timezone=timezone, min_days_to_pay=min_days_to_pay)
    summary.issued += len(numbered)
    summary.total_minor += sum(d.total_minor for d in numbered)
    return True


def _draft_batch(run: _Context, batch: list[ApartmentRow]) -> list[DraftInvoice]:
    """The batch's invoices drafted: its facts loaded first, then each apartment's lines from them."""
    summary, period = run.summary, run.period
    facts = load_facts(run.session, run.prepared, run.rules, batch)
    due = due_date(period, due_day=run.rules.due_day)
    drafts = []
    for apartment in batch:
        if apartment.company_id is None:
            summary.without_manager += 1
            continue
        try:
            lines = draft_lines(run.prepared, run.rules, facts, apartment, summary.warn)
        except ValueError as exc:  # a tariff that does not cover the month: hold this invoice back
            summary.warn(f"apartment {apartment.id}: not billed, {exc}")
            summary.failed += 1
            continue
        if not lines:
            summary.without_lines += 1
            continue
        drafts.append(
            DraftInvoice(
                apartment_id=apartment.id,
                company_id=apartment.company_id,
                period=period,
                due_date=due,
                lines=tuple(lines),
            )
        )
    return drafts
