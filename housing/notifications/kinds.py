"""The catalogue of notification kinds: who gets them, their default channels, their text.

One place per rule: whether a kind is urgent (it passes quiet hours), whether the law or
the owners' meetings require it (it cannot be switched off entirely), and which channels
it goes to when the user has chosen nothing. The texts are English source strings with
`{name}` fields from the notification's params, translated through the pages' catalogs.
"""

from dataclasses import dataclass
from enum import StrEnum


def N_(message: str) -> str:
    return message


class Channel(StrEnum):
    email = "email"
    telegram = "telegram"
    sms = "sms"


EXTERNAL_CHANNELS = tuple(Channel)


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    body: str
    channels: frozenset[Channel]  # the defaults, before the user's preferences
    urgent: bool = False
    required: bool = False  # in-app and at least one channel stay on
    staff: bool = False  # addressed to company staff or officials, not to residents


ALL = frozenset(Channel)
MAIL_AND_BOT = frozenset({Channel.email, Channel.telegram})

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "invoice_issued",
            N_("Invoice for {month}"),
            N_("Your invoice {number} for {month} is {amount}, due by {due}."),
            MAIL_AND_BOT,
        ),
        Kind(
            "payment_due_soon",
            N_("Payment due on {due}"),
            N_("{amount} of invoice {number} is still to pay by {due}."),
            ALL,
        ),
        Kind(
            "payment_overdue",
            N_("Payment overdue"),
            N_("Invoice {number} was due on {due}; {amount} is unpaid and a late penalty now accrues."),
            ALL,
        ),
        Kind(
            "payment_received",
            N_("Payment received"),
            N_("We received your payment of {amount}."),
            MAIL_AND_BOT,
        ),
        Kind(
            "payment_refunded",
            N_("Payment refunded"),
            N_("{amount} of your payment was refunded."),
            MAIL_AND_BOT,
        ),
        Kind(
            "instalment_agreed",
            N_("Instalment plan agreed"),
            N_(
                "Your debt of {total} is to be paid in {count} instalments; the first, {amount}, by {due}."
                " While you keep to the plan, no late penalty accrues on it."
            ),
            ALL,
        ),
        Kind(
            "instalment_missed",
            N_("Instalment plan ended"),
            N_(
                "The instalment of {amount} due by {due} was not paid, so the plan has ended and late"
                " penalties accrue again."
            ),
            ALL,
        ),
        Kind(
            "instalment_kept",
            N_("Instalment plan completed"),
            N_("You have paid all instalments of your plan ({total}). Thank you."),
            MAIL_AND_BOT,
        ),
        Kind(
            "request_status",
            N_("Request {number}: {status}"),
            N_("Your request {number} is now {status}."),
            MAIL_AND_BOT,
        ),
        Kind(
            "request_comment",
            N_("Request {number}: a new comment"),
            N_("{author} wrote on your request {number}: {text}"),
            MAIL_AND_BOT,
        ),
        Kind(
            "outage_planned",
            N_("Planned outage: {service}"),
            N_("{service} will be off in {building} from {starts} to {ends}."),
            ALL,
        ),
        Kind(
            "incident",
            N_("{service} interrupted"),
            N_("{service} is interrupted in {building} since {starts}. We are on it."),
            ALL,
            urgent=True,
        ),
        Kind(
            "reading_window_open",
            N_("Send your meter readings"),
            N_("The meter-reading window is open until {closes}."),
            MAIL_AND_BOT,
        ),
        Kind(
            "reading_window_closing",
            N_("Meter readings: {days} days left"),
            N_("The meter-reading window closes on {closes}. Meter {meter} has no reading yet."),
            ALL,
        ),
        Kind(
            "meter_leak",
            N_("Possible leak at meter {meter}"),
            N_("Meter {meter} has been counting without a pause: {detail}"),
            ALL,
            urgent=True,
        ),
        Kind(
            "meter_backwards",
            N_("Meter {meter} ran backwards"),
            N_("Meter {meter} reported a value below its previous one: {detail}"),
            MAIL_AND_BOT,
        ),
        Kind("announcement", N_("{title}"), N_("{text}"), MAIL_AND_BOT),
        Kind("announcement_urgent", N_("{title}"), N_("{text}"), ALL, urgent=True),
        Kind(
            "meeting_notice",
            N_("Owners' meeting: {title}"),
            N_("{text}"),
            ALL,
            required=True,
        ),
        Kind(
            "meeting_reminder",
            N_("Owners' meeting: {title}"),
            N_("Voting ends on {ends} and your ballot is not in yet."),
            ALL,
        ),
        Kind(
            "meeting_result",
            N_("Owners' meeting: {title}"),
            N_("The votes are counted: turnout {turnout}, {adopted} of {questions} questions adopted."),
            ALL,
        ),
        Kind(
            "meeting_cancelled",
            N_("Owners' meeting: {title}"),
            N_("The meeting is cancelled: {reason}"),
            ALL,
        ),
        Kind(
            "building_report",
            N_("Your building's report for {quarter}"),
            N_("The company published the report on {address} for {quarter}: income, expenses and works."),
            MAIL_AND_BOT,
        ),
        Kind(
            "staff_emergency",
            N_("Emergency request {number}"),
            N_("{category} in {building}: {text}"),
            frozenset({Channel.telegram, Channel.sms}),
            urgent=True,
            staff=True,
        ),
        Kind(
            "staff_escalation",
            N_("Request {number} escalated"),
            N_("Request {number} ({category}, {building}) is {days} days overdue."),
            MAIL_AND_BOT,
            staff=True,
        ),
    )
}


def kind(name: str) -> Kind:
    """The kind of that name; an unknown name is a programming error, not an input."""
    return KINDS[name]
