"""E-mail over SMTP (smtplib): one connection per batch, a text and an HTML part, refusals told apart.

Each message goes in the reader's language (the HTML part is `templates/notifications/email.html`)
with its link, and a Message-ID made from the delivery's id, so a retried message is
recognisably the same one. How an answer is classified:

- the server unreachable, a timeout, a 4xx, a login or TLS failure: temporary (retried);
- a 5xx to the recipient (no such mailbox) or an address that is not one: permanent for
  that message (the sender then turns e-mail off for the user, saying why);
- the connection lost while the message's data was on its way: the outcome is unknown, and
  the message is failed rather than sent again (at most once).

A connection that breaks before a message's data is reopened once for the rest of the batch.
"""

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, parseaddr
from functools import cache
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, Template

from housing import clock, i18n
from housing.notifications.channels.base import SENT, Outcome, Outgoing, permanent, temporary, unknown
from housing.notifications.kinds import N_, Channel
from housing.settings import NotifySettings

TEMPLATES_DIR = i18n.LOCALE_DIR.parent.parent / "templates"
SETTINGS_PATH = "/settings/notifications"
FOOTER = N_("You receive this message because of your notification settings: {url}")
_SMTP_ERRORS = (OSError, smtplib.SMTPException)


class Broken(Exception):
    """The connection is gone; `sent_data` says whether the message's data may have arrived."""

    def __init__(self, error: str, *, sent_data: bool) -> None:
        super().__init__(error)
        self.sent_data = sent_data


class EmailChannel:
    channel = Channel.email

    def __init__(self, notify: NotifySettings) -> None:
        self.notify = notify
        self.rate_per_second = notify.email_rate_per_second
        self.sender = parseaddr(notify.smtp_from)[1]
        self.domain = self.sender.rpartition("@")[2] or "localhost"
        self._connection: smtplib.SMTP | None = None

    def send(self, messages: list[Outgoing]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            for index, message in enumerate(messages):
                try:
                    outcomes.append(self._one(message))
                except _SMTP_ERRORS as exc:  # cannot connect: the rest of the batch waits for a retry
                    left = len(messages) - index
                    outcomes += [temporary(f"e-mail server unavailable: {_said(exc)}")] * left
                    break
        finally:
            if self._connection is not None:
                try:
                    self._connection.quit()
                except _SMTP_ERRORS:
                    _close(self._connection)
            self._connection = None
        return outcomes

    def _one(self, message: Outgoing) -> Outcome:
        """One message's outcome; raises when no connection can be opened."""
        refused = invalid_address(message.address)
        if refused:
            return permanent(refused)
        for attempt in (1, 2):  # a connection lost before the data is reopened once
            if self._connection is None:
                self._connection = self._connect()
            try:
                return self._deliver(self._connection, message)
            except Broken as exc:
                _close(self._connection)
                self._connection = None
                if exc.sent_data:
                    return unknown(f"connection lost during the message's data: {exc}")
                if attempt == 2:
                    return temporary(f"connection lost: {exc}")
        raise AssertionError("unreachable")

    def close(self) -> None:
        pass  # each batch closes its own connection

    def _connect(self) -> smtplib.SMTP:
        notify = self.notify
        host, port, timeout = notify.smtp_host or "localhost", notify.smtp_port, notify.smtp_timeout_s
        if notify.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if notify.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo_or_helo_if_needed()
            if notify.smtp_username:
                password = notify.smtp_password.get_secret_value() if notify.smtp_password else ""
                smtp.login(notify.smtp_username, password)
        except BaseException:
            _close(smtp)
            raise
        return smtp

    def _deliver(self, smtp: smtplib.SMTP, message: Outgoing) -> Outcome:
        international = not (message.address.isascii() and self.sender.isascii())
        if international and not smtp.has_extn("smtputf8"):
            return permanent("a non-ASCII address, and the e-mail server does not offer SMTPUTF8")
        data = compose(message, self.notify, self.domain).as_bytes(policy=SMTPUTF8 if international else SMTP)
        try:
            code, reply = smtp.mail(self.sender, ["SMTPUTF8"] if international else [])
            if code != 250:
                return _reset(smtp, temporary(f"sender refused: {code} {_text(reply)}"))
            code, reply = smtp.rcpt(message.address)
            if code not in (250, 251):
                said = f"{code} {_text(reply)}"
                return _reset(smtp, permanent(said) if 500 <= code < 600 else temporary(said))
        except _SMTP_ERRORS as exc:
            raise Broken(_said(exc), sent_data=False) from exc
        try:
            smtp.data(data)
        except smtplib.SMTPDataError as exc:  # the server answered: it did not take the message
            return temporary(f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}")
        except _SMTP_ERRORS as exc:
            raise Broken(_said(exc), sent_data=True) from exc
        return SENT


def invalid_address(address: str) -> str:
    """Why an address cannot be one (a reason), or "" for one that may be sent to."""
    local, at, domain = address.rpartition("@")
    if not (at and local and "." in domain) or len(address) > 254:
        return "not an e-mail address"
    if any(c.isspace() or not c.isprintable() or c in '<>,;"()[]\\' for c in address):
        return "not an e-mail address: it has spaces, control characters or separators"
    return ""


def compose(message: Outgoing, notify: NotifySettings, domain: str) -> EmailMessage:
    """The message: headers, a plain-text part and the HTML part, in the reader's language."""
    translations = i18n.translations(message.language)
    settings_url = f"{notify.site_url.rstrip('/')}{SETTINGS_PATH}"
    footer = translations.gettext(FOOTER).format(url=settings_url)
    email = EmailMessage()
    email["From"] = notify.smtp_from
    email["To"] = message.address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(clock.now())
    email["Message-ID"] = f"<notification-delivery-{message.delivery_id}@{domain}>"
    email["Auto-Submitted"] = "auto-generated"
    email["List-Unsubscribe"] = f"<{settings_url}>"
    if message.urgent:
        email["Importance"] = "high"
    email.set_content(f"{message.text}\n\n{message.url}\n\n-- \n{footer}\n")
    html = _template(message.language).render(
        message=message, site=urlsplit(notify.site_url).netloc, settings_url=settings_url, footer=footer
    )
    email.add_alternative(html, subtype="html")
    email["Content-Language"] = message.language  # after the parts: setting content clears Content-*
    return email


@cache
def _template(language: str) -> Template:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, extensions=["jinja2.ext.i18n"]
    )
    environment.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    return environment.get_template("notifications/email.html")


def _reset(smtp: smtplib.SMTP, outcome: Outcome) -> Outcome:
    with contextlib.suppress(*_SMTP_ERRORS):  # a broken connection is found and reopened by the next message
        smtp.rset()
    return outcome


def _close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _said(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
