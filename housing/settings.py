"""All configuration in one pydantic-settings class, read from HOUSING_* variables.

Nested groups use a double underscore: HOUSING_DB__URL, HOUSING_AUTH__SECRET_KEY.

Every domain rule that DESIGN.md calls configurable (the reading window, the due day, the
penalty rate and cap, the emergency deadline, the service-quality norms and deductions,
the heating season, the outage allowances, the reopen and escalation windows, the city's
time zone) is a field here and nowhere else: detection, billing and pages read it from
these settings (the request categories' own deadlines live in the database, where admins
edit them). Code that needs a default without settings takes it from these classes'
defaults (e.g. `MeterSettings()`), never from a copy of the number.

It runs over 500 lines because that one place holds every group with its documentation
(each field's description is the README's and the settings page's text).
"""

from datetime import time, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from housing.building_money.rules import Quarter
from housing.meetings.rules import DEFAULT_THRESHOLDS, DecisionKind, parse_threshold

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused outside development
CITY_TIMEZONE = "Asia/Tashkent"  # the default of `Settings.timezone`; pure modules' default zone


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DatabaseSettings(BaseModel):
    url: str = Field(
        "sqlite:///./housing.db",
        description="SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user:pass@host/db",
    )
    echo: bool = Field(False, description="Log every SQL statement")
    pool_size: int = Field(
        10,
        ge=1,
        description="Connections kept per process (PostgreSQL), and the requests a web process serves"
        " at once: more wait their turn (housing/inflight.py)",
    )


class AuthSettings(BaseModel):
    secret_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_SECRET),
        description="Signs session cookies and CSRF tokens; must be set outside development",
    )
    api_token_days: int = Field(30, ge=1, description="Lifetime of an API bearer token")
    session_hours: int = Field(12, ge=1, description="Lifetime of a browser session")
    secure_cookies: bool | None = Field(
        None, description="Send cookies only over HTTPS; defaults to on in production"
    )
    login_rate_limit: str = Field(
        "5/minute", description="Failed logins allowed per user name and client address"
    )
    rate_limit_storage: str = Field(
        "memory://", description="Where login counters live; redis://host:6379 when several web processes run"
    )
    argon2_time_cost: int = Field(3, ge=1, description="argon2id iterations")
    argon2_memory_kib: int = Field(65536, ge=8, description="argon2id memory per hash")


class SchedulerSettings(BaseModel):
    timezone: str | None = Field(
        None,
        description="Deprecated: the job calendar follows HOUSING_TIMEZONE; if given, it must name the same zone",
    )
    heartbeat_file: Path = Field(
        Path("/tmp/housing-worker.heartbeat"),  # noqa: S108 - a liveness marker, no secrets
        description="Touched by the worker every 30 s; its health check reads the age",
    )
    behind_after_minutes: int = Field(
        120,
        ge=1,
        description="`housing health worker` reports a calendar job behind when it has not finished"
        " its day (or month) this long after its scheduled time",
    )


class MqttSettings(BaseModel):
    host: str | None = Field(
        None, description="Broker host; unset means `housing demo` embeds its own broker"
    )
    port: int = Field(1883, description="Broker port")
    username: str | None = Field(None, description="Broker user of the ingest worker")
    password: SecretStr | None = Field(None, description="Broker password of the ingest worker")
    client_id: str = Field(
        "housing-ingest-1",
        description="This ingest process's own name, unique among running ingest processes; "
        "names its status file. The broker sessions belong to partitions (session_prefix), not to it",
    )
    session_prefix: str = Field(
        "housing-ingest",
        description="MQTT client ids of the partition sessions: {prefix}-p00..-p15 and {prefix}-v1; "
        "the same for every ingest process of an installation",
    )
    protocol: int = Field(5, description="5 (MQTT 5, production) or 4 (MQTT 3.1.1, e.g. an embedded broker)")
    topic_root: str = Field(
        "housing", description="Root of the device topics: {root}/v2/{partition}/... and {root}/v1/..."
    )
    session_expiry_s: int = Field(
        7 * 24 * 3600, description="How long the broker keeps a stopped worker's queue"
    )
    receive_maximum: int = Field(
        5000, ge=20, description="Unacknowledged messages the broker may send at once"
    )
    batch_size: int = Field(2000, ge=1, description="Readings written per transaction at most")
    batch_wait_ms: int = Field(100, ge=1, description="A partial batch is written after this long")
    max_payload_bytes: int = Field(65536, ge=64, description="Larger payloads are rejected")
    future_tolerance_s: int = Field(
        300, ge=0, description="Readings stamped further in the future are rejected"
    )
    metrics_port: int | None = Field(None, description="Serve Prometheus metrics of the ingest worker here")
    status_file: Path | None = Field(
        None,
        description="The worker's counters, rewritten every second; `housing health ingest` reads it. "
        "Unset: /tmp/housing-ingest-{client_id}.status.json, one per ingest process",
    )
    rebalance_s: float = Field(
        5.0, gt=0, description="How often an ingest process checks its fair share of the partitions"
    )
    stall_after_s: int = Field(
        60,
        ge=1,
        description="`housing health ingest` fails when messages wait and nothing was committed this long",
    )

    @property
    def status_path(self) -> Path:
        if self.status_file is not None:
            return self.status_file
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.client_id)
        return Path(f"/tmp/housing-ingest-{name}.status.json")  # noqa: S108 - counters only, no secrets


class MeterSettings(BaseModel):
    window_start_day: int = Field(
        15, ge=1, le=28, description="First day of the month residents may submit readings"
    )
    window_end_day: int = Field(
        25, ge=1, le=31, description="Last day of the month residents may submit readings"
    )
    stale_after_hours: int = Field(
        48, ge=1, description="A smart meter silent this long raises a stale alert"
    )
    boundary_tolerance_hours: int = Field(
        24,
        ge=0,
        le=744,
        description=(
            "A smart meter's reading at most this far from a month's boundary, with none on its"
            " other side, may be extended to it; further off, the month has no reading at that"
            " end and is billed by the meter's average, then by the norm"
        ),
    )
    verification_warning_days: int = Field(
        30, ge=1, description="Warn this long before a meter's verification is due"
    )
    hot_water_min_c: float = Field(
        60.0, description="Hot water at the tap must be at least this warm (incidents, billing, pages)"
    )
    hot_water_allowed_deviation_c: float = Field(
        5.0, ge=0, description="Tolerated shortfall: an incident opens and deductions start beyond it"
    )
    hot_water_step_c: Decimal = Field(
        Decimal(3), gt=0, description="Each step of this many C beyond the tolerated shortfall for an hour..."
    )
    hot_water_step_deduction: Decimal = Field(
        Decimal("0.001"),
        ge=0,
        le=1,
        description="...cuts this share of the month's hot-water charge (0.001 = 0.1%)",
    )
    hot_water_cold_below_c: Decimal = Field(
        Decimal(40), description="Hours of hot water below this are billed at the cold-water tariff"
    )
    indoor_min_c: float = Field(
        18.0, description="Living rooms must be at least this warm in the heating season"
    )
    heating_deduction_per_degree_hour: Decimal = Field(
        Decimal("0.0015"),
        ge=0,
        le=1,
        description="Share of the month's heating charge cut per degree below the indoor norm per hour (0.0015 = 0.15%)",
    )
    heating_season: str = Field("10-15..04-15", description="MM-DD..MM-DD, the heating season")
    partitions_ahead: int = Field(
        3, ge=1, description="Monthly reading partitions created ahead (PostgreSQL)"
    )

    @property
    def boundary_tolerance(self) -> timedelta:
        return timedelta(hours=self.boundary_tolerance_hours)


class BillingSettings(BaseModel):
    due_day: int = Field(
        15, ge=1, le=28, description="A month's invoice is due on this day of the next month"
    )
    min_days_to_pay: int = Field(
        10,
        ge=0,
        le=366,
        description="Days a resident has at least to pay after an invoice is issued: it is due on the"
        " due day of the next month or this many days after its issue date, whichever is later",
    )
    penalty_rate: Decimal = Field(
        Decimal("0.001"),
        ge=0,
        le=1,
        description="Late penalty per day past due, as a share of the amount overdue (0.001 = 0.1%)",
    )
    penalty_cap: Decimal = Field(
        Decimal("0.5"),
        ge=0,
        le=1,
        description="A month's penalties stop at this share of that month's charge (0.5 = 50%)",
    )
    organisation_penalty_rate: Decimal = Field(
        Decimal("0.004"),
        ge=0,
        le=1,
        description="The late penalty per day for premises owned by organisations (0.004 = 0.4%)",
    )
    organisation_penalty_cap: Decimal = Field(
        Decimal("0.5"), ge=0, le=1, description="... and its cap, as a share of the month's charge"
    )


class OutageSettings(BaseModel):
    """How long one interruption of a service may last before it counts against the company.

    Defaults and their sources: `housing.incidents.allowances`.
    """

    cold_water_hours: float = Field(4, gt=0, description="Allowed interruption of cold water")
    hot_water_hours: float = Field(4, gt=0, description="Allowed interruption of hot water")
    heating_hours: float = Field(16, gt=0, description="Allowed interruption of heating")
    gas_hours: float = Field(4, gt=0, description="Allowed interruption of gas")
    electricity_hours: float = Field(2, gt=0, description="Allowed interruption of electricity")
    lift_hours: float = Field(24, gt=0, description="Allowed interruption of a lift")
    planned_hot_water_hours: float = Field(
        14 * 24, gt=0, description="Allowed planned hot-water outage (yearly maintenance of the mains)"
    )


class StripeSettings(BaseModel):
    secret_key: SecretStr | None = Field(
        None,
        description="Stripe secret key (sk_...); unset turns card payments off (the API says so with a 503)",
    )
    publishable_key: str | None = Field(
        None, description="Stripe publishable key (pk_...) the payment page uses"
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Signing secret (whsec_...) of the webhook endpoint /api/v1/webhooks/stripe"
    )
    api_base: str | None = Field(
        None, description="Another Stripe API address, e.g. a local Stripe-compatible server for tests"
    )
    js_url: str = Field(
        "https://js.stripe.com/v3/", description="Where the payment page loads Stripe.js from"
    )
    reconcile_after_minutes: int = Field(
        15, ge=1, description="A card payment still pending this long is fetched from Stripe again"
    )
    abandon_after_hours: int = Field(
        24, ge=1, description="A card payment never confirmed for this long is canceled at Stripe"
    )

    @property
    def configured(self) -> bool:
        return self.secret_key is not None and bool(self.secret_key.get_secret_value())


class PaymeSettings(BaseModel):
    """Payme calls our Merchant API at /api/v1/merchant/payme (docs/payme.md)."""

    merchant_id: str | None = Field(
        None, description="The merchant (cashbox) id from Payme's cabinet; unset turns Payme off"
    )
    key: SecretStr | None = Field(
        None, description="The cashbox key: Payme signs in to our endpoint as Paycom:<key> (Basic)"
    )
    checkout_url: str = Field(
        "https://checkout.paycom.uz", description="Payme's checkout, where the pay page sends the payer"
    )
    account_field: str = Field(
        "account_number", description="The account field set up in Payme's cabinet (our personal account)"
    )
    min_amount_minor: int = Field(100_000, ge=1, description="A smaller payment is refused (tiyin)")
    max_amount_minor: int = Field(
        1_000_000_000, ge=1, description="A larger payment is refused (tiyin; 10 million UZS)"
    )

    @property
    def configured(self) -> bool:
        return bool(self.merchant_id) and self.key is not None and bool(self.key.get_secret_value())


class ClickSettings(BaseModel):
    """Click calls our SHOP-API at /api/v1/merchant/click/{prepare,complete} (docs/click.md)."""

    service_id: str | None = Field(None, description="Our service id at Click; unset turns Click off")
    merchant_id: str | None = Field(None, description="Our merchant id at Click (for the checkout link)")
    secret_key: SecretStr | None = Field(None, description="The secret key Click's sign_string is made with")
    checkout_url: str = Field(
        "https://my.click.uz/services/pay", description="Click's checkout, where the pay page sends the payer"
    )
    min_amount_minor: int = Field(100_000, ge=1, description="A smaller payment is refused (tiyin)")
    max_amount_minor: int = Field(
        1_000_000_000, ge=1, description="A larger payment is refused (tiyin; 10 million UZS)"
    )

    @property
    def configured(self) -> bool:
        return (
            bool(self.service_id)
            and bool(self.merchant_id)
            and self.secret_key is not None
            and bool(self.secret_key.get_secret_value())
        )


class ReconcileSettings(BaseModel):
    """The daily reconciliation of the gateways' payments with our ledger and their statements."""

    abandon_checkout_hours: int = Field(
        24,
        ge=1,
        description="A Payme or Click checkout the provider never opened is cancelled after this long",
    )


class RequestSettings(BaseModel):
    photo_dir: Path = Field(
        Path("./var/request-photos"), description="Where photos attached to service requests are stored"
    )
    max_photo_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Larger photo uploads are refused")
    max_photos: int = Field(5, ge=1, description="Photos one request may carry")
    daily_limit: int = Field(10, ge=1, description="Requests one resident may file a day")
    reopen_days: int = Field(
        7, ge=1, description="A resident may reopen a request this long after it was resolved"
    )
    escalate_after_days: int = Field(
        3, ge=1, description="A request overdue this long is escalated to city officials"
    )
    emergency_deadline_minutes: int = Field(
        30,
        ge=1,
        le=60 * 24 * 365,
        description="An emergency must be contained this fast, whatever its category's deadline",
    )

    @property
    def emergency_deadline(self) -> timedelta:
        return timedelta(minutes=self.emergency_deadline_minutes)

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_days)

    @property
    def escalate_after(self) -> timedelta:
        return timedelta(days=self.escalate_after_days)


class AnnouncementSettings(BaseModel):
    attachment_dir: Path = Field(
        Path("./var/announcement-files"), description="Where files attached to announcements are stored"
    )
    max_attachment_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Larger attachments (an image or a PDF) are refused; the upload's body is also bounded by"
        " HOUSING_LIMITS__PHOTO_BYTES",
    )
    notice_chars: int = Field(
        500, ge=50, le=5000, description="A notification carries this much of the text; its link opens all"
    )


class MeetingSettings(BaseModel):
    """The owners' meetings rule table (docs/meetings.md); the defaults follow the Russian Housing
    Code art. 44-48, which Tashkent's rules mirror."""

    quorum: str = Field("all>1/2", description="Votes cast needed for a quorum: more than half of all votes")
    thresholds: dict[str, str] = Field(
        default_factory=lambda: {kind.value: rule for kind, rule in DEFAULT_THRESHOLDS.items()},
        description="Votes for needed per decision kind: all>1/2 (more than half of all votes),"
        " cast>1/2 (of the votes cast), all>=2/3; a JSON object, kinds left out keep their default",
    )
    initiative_share: str = Field(
        "1/10", description="Owners who initiate a meeting together hold at least this share of all votes"
    )
    notice_days: int = Field(
        14, ge=0, le=90, description="Days from publishing a meeting to the start of voting"
    )
    shortest_vote_days: int = Field(7, ge=1, le=365, description="The voting period lasts at least this long")
    longest_vote_days: int = Field(60, ge=1, le=365, description="... and at most this long")
    reminder_days: int = Field(
        2, ge=0, le=30, description="Owners who have not voted are reminded this many days before the end"
    )
    document_dir: Path = Field(
        Path("./var/meeting-files"),
        description="Where agenda documents, proxies' powers of attorney and paper ballots' scans are stored",
    )
    max_document_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Larger documents and scans (an image or a PDF) are refused"
    )

    @field_validator("quorum")
    @classmethod
    def _quorum_rule(cls, value: str) -> str:
        parse_threshold(value)
        return value

    @field_validator("thresholds")
    @classmethod
    def _threshold_rules(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {kind.value for kind in DecisionKind})
        if unknown:
            raise ValueError(
                f"unknown decision kinds {unknown}; the kinds are {[k.value for k in DecisionKind]}"
            )
        for rule in value.values():
            parse_threshold(rule)
        return {kind.value: rule for kind, rule in DEFAULT_THRESHOLDS.items()} | value

    @field_validator("initiative_share")
    @classmethod
    def _share(cls, value: str) -> str:
        try:
            share = Fraction(value)
        except (ValueError, ZeroDivisionError) as exc:
            raise ValueError(f"{value!r} is not a fraction such as 1/10 or 0.1") from exc
        if not 0 < share <= 1:
            raise ValueError("the initiative share must be above 0 and at most 1")
        return value

    @model_validator(mode="after")
    def _periods(self) -> Self:
        if self.shortest_vote_days > self.longest_vote_days:
            raise ValueError("shortest_vote_days is longer than longest_vote_days")
        return self


class MoneySettings(BaseModel):
    """Each building's money: the quarterly report's deadline and the expenses' documents
    (docs/building-money.md)."""

    report_due_days: int = Field(
        30,
        ge=1,
        le=365,
        description="A quarter's report is late when not published this many days after it ends",
    )
    reports_from: str = Field(
        "2026-Q3",
        description="The first quarter every building reports on (YYYY-QN): earlier ones are never late",
    )
    document_dir: Path = Field(
        Path("./var/expense-files"),
        description="Where expenses' documents (acts, invoices, photos) are stored",
    )
    max_document_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Larger expense documents (an image or a PDF) are refused"
    )

    @field_validator("reports_from")
    @classmethod
    def _quarter(cls, value: str) -> str:
        return str(Quarter.parse(value))

    @property
    def first_quarter(self) -> Quarter:
        return Quarter.parse(self.reports_from)


class TwinSettings(BaseModel):
    """The digital twin: the building grade's thresholds (docs/digital-twin.md), live updates
    of an open building view, and the city map's optional tile server."""

    grade_window_days: int = Field(
        30, ge=1, le=366, description="Incident hours and residents' ratings count over this many days"
    )
    incident_hours_yellow: float = Field(
        4,
        ge=0,
        description="Hours of service incidents per apartment in the window that make a building yellow",
    )
    incident_hours_red: float = Field(24, ge=0, description="... and red")
    overdue_requests_yellow: float = Field(
        1, ge=0, description="Open requests past their deadline that make a building yellow"
    )
    overdue_requests_red: float = Field(3, ge=0, description="... and red")
    rating_yellow: float = Field(
        4.0, ge=1, le=5, description="Residents' mean rating (1-5) at or below which a building is yellow"
    )
    rating_red: float = Field(3.0, ge=1, le=5, description="... and red")
    meter_coverage_yellow: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Share of apartments with a smart meter reporting, at or below which a building is yellow",
    )
    meter_coverage_red: float = Field(0.5, ge=0, le=1, description="... and red")
    debt_share_yellow: float = Field(
        0.1, ge=0, le=1, description="Share of apartments with a debt past due that makes a building yellow"
    )
    debt_share_red: float = Field(0.25, ge=0, le=1, description="... and red")
    live_seconds: float = Field(
        2.0,
        ge=0.2,
        le=300,
        description="How often the web process looks for changes of the buildings open in a browser",
    )
    live_streams: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Live building views (server-sent-event streams) one web process holds at most; beyond, 503",
    )
    tile_url: str | None = Field(
        None,
        description="A map tile server, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png;"
        " unset: the city map draws its points on a plain background (no internet needed)",
    )
    tile_attribution: str = Field("", description="The tile server's required attribution, shown on the map")

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Self:
        for name, more_is_worse in (
            ("incident_hours", True),
            ("overdue_requests", True),
            ("rating", False),
            ("meter_coverage", False),
            ("debt_share", True),
        ):
            yellow, red = getattr(self, f"{name}_yellow"), getattr(self, f"{name}_red")
            if (red < yellow) if more_is_worse else (red > yellow):
                raise ValueError(f"{name}_red ({red}) is milder than {name}_yellow ({yellow})")
        return self


class LimitSettings(BaseModel):
    """The largest request body each kind of route reads; a larger one is refused with 413."""

    form_bytes: int = Field(
        256 * 1024, ge=1024, description="A form post, and any body that is not JSON, an import or a photo"
    )
    json_bytes: int = Field(1024 * 1024, ge=1024, description="A JSON document sent to the API")
    import_bytes: int = Field(
        33 * 1024 * 1024,
        ge=1024,
        description="A CSV import upload, multipart framing included (the importers read files of up to 32 MB)",
    )
    photo_bytes: int = Field(
        6 * 1024 * 1024,
        ge=1024,
        description="A photo upload, a request filed with one or an announcement with its file, form included;"
        " above HOUSING_REQUESTS__MAX_PHOTO_BYTES (and HOUSING_ANNOUNCEMENTS__MAX_ATTACHMENT_BYTES)",
    )


class NotifySettings(BaseModel):
    """Notifications: where links point, quiet hours, retries, and each optional channel.

    A channel is on when its settings are given: e-mail with `smtp_host`, Telegram with
    `telegram_token`, SMS with `sms_provider`. In-app (the inbox) is always on.
    """

    site_url: str = Field("http://127.0.0.1:8000", description="The web app's address, for links in messages")
    quiet_start: time = Field(time(22, 0), description="Quiet hours start (city time): only urgent messages")
    quiet_end: time = Field(time(8, 0), description="Quiet hours end (city time)")
    batch_size: int = Field(500, ge=1, le=10_000, description="Deliveries one sender step claims per channel")
    retry_base_s: int = Field(
        30, ge=1, description="First retry after a temporary failure; doubles each time"
    )
    retry_max_s: int = Field(3600, ge=1, description="The longest wait between two tries")
    give_up_after_hours: float = Field(
        24, gt=0, description="A delivery still failing this long after its notification is marked failed"
    )
    sending_lease_s: int = Field(
        300,
        ge=1,
        description="A delivery claimed this long ago by a sender that never reported is interrupted",
    )
    due_soon_days: int = Field(3, ge=1, le=28, description="Payment-due reminder this many days before")
    window_closing_days: int = Field(
        2, ge=1, le=28, description="Reading-window reminder this many days before it closes"
    )
    smtp_host: str | None = Field(None, description="SMTP server; e-mail is off without it")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port")
    smtp_username: str | None = Field(None, description="SMTP login")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_security: str = Field("none", pattern="^(none|starttls|tls)$", description="none, starttls or tls")
    smtp_from: str = Field("My Home <noreply@localhost>", description="The From address")
    smtp_timeout_s: float = Field(10, gt=0, description="SMTP connect and command timeout")
    email_rate_per_second: float = Field(200, gt=0, description="E-mails sent a second at most")
    telegram_token: SecretStr | None = Field(None, description="The bot's token; Telegram is off without it")
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Bot API server (a local Bot API server or a test stand-in)"
    )
    telegram_bot_name: str | None = Field(None, description="The bot's @username, for the linking deep link")
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="Webhook mode: the secret token Telegram sends with each update"
    )
    telegram_rate_per_second: float = Field(
        25, gt=0, description="Messages a second at most (Telegram allows about 30 per bot)"
    )
    sms_provider: str | None = Field(None, description="SMS gateway adapter (eskiz); SMS is off without it")
    sms_api_url: str = Field("https://notify.eskiz.uz", description="The SMS gateway's API address")
    sms_login: str | None = Field(None, description="SMS gateway login (e-mail for Eskiz)")
    sms_password: SecretStr | None = Field(None, description="SMS gateway password or secret key")
    sms_sender: str = Field("4546", description="The SMS sender name or number the gateway assigned")
    sms_rate_per_second: float = Field(20, gt=0, description="SMS sent a second at most")
    sms_timeout_s: float = Field(10, gt=0, description="SMS gateway connect and read timeout")

    @property
    def email_on(self) -> bool:
        return self.smtp_host is not None

    @property
    def telegram_on(self) -> bool:
        return self.telegram_token is not None

    @property
    def sms_on(self) -> bool:
        return self.sms_provider is not None


class Open311Settings(BaseModel):
    jurisdiction_id: str = Field(
        "tashkent.uz", description="The one jurisdiction GeoReport v2 clients may name; others are 404"
    )
    nearest_building_m: float = Field(
        150.0, gt=0, description="A request filed by lat/long goes to the nearest building this close"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOUSING_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: Environment = Field(Environment.development, description="development, test or production")
    timezone: str = Field(
        CITY_TIMEZONE,
        description="The city's time zone: pages show times in it, and the job calendar, billing"
        " months, penalty days and daily limits follow its days",
    )
    db: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    mqtt: MqttSettings = MqttSettings()
    meters: MeterSettings = MeterSettings()
    billing: BillingSettings = BillingSettings()
    outages: OutageSettings = OutageSettings()
    stripe: StripeSettings = StripeSettings()
    payme: PaymeSettings = PaymeSettings()
    click: ClickSettings = ClickSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    requests: RequestSettings = RequestSettings()
    announcements: AnnouncementSettings = AnnouncementSettings()
    open311: Open311Settings = Open311Settings()
    limits: LimitSettings = LimitSettings()
    notify: NotifySettings = NotifySettings()
    meetings: MeetingSettings = MeetingSettings()
    money: MoneySettings = MoneySettings()
    twin: TwinSettings = TwinSettings()

    @field_validator("timezone")
    @classmethod
    def known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"HOUSING_TIMEZONE must be an IANA time zone such as Asia/Tashkent, not {value!r}"
            ) from exc
        return value

    @model_validator(mode="after")
    def one_time_zone(self) -> Self:
        """One calendar for the city: the scheduler's zone is the pages' zone.

        A month billed by the job and the same month shown on a page, a penalty day and a
        resident's daily limit must start at the same midnight, so the job calendar has no
        zone of its own. HOUSING_SCHEDULER__TIMEZONE is still read (older deployments set
        it) but must then name HOUSING_TIMEZONE's zone.
        """
        if self.scheduler.timezone is None:
            self.scheduler.timezone = self.timezone
        elif self.scheduler.timezone != self.timezone:
            raise ValueError(
                f"HOUSING_SCHEDULER__TIMEZONE ({self.scheduler.timezone}) differs from HOUSING_TIMEZONE"
                f" ({self.timezone}): the job calendar follows the city's time zone; set HOUSING_TIMEZONE"
                " only"
            )
        return self

    @model_validator(mode="after")
    def refuse_default_secrets(self) -> Self:
        if self.environment is not Environment.development and (
            self.auth.secret_key.get_secret_value() == DEVELOPMENT_SECRET
            or len(self.auth.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "HOUSING_AUTH__SECRET_KEY must be set to a random value of at least 32 "
                f"characters when HOUSING_ENVIRONMENT={self.environment.value}"
            )
        return self

    @model_validator(mode="after")
    def photo_uploads_fit(self) -> Self:
        if self.limits.photo_bytes <= self.requests.max_photo_bytes:
            raise ValueError(
                "HOUSING_LIMITS__PHOTO_BYTES must be larger than HOUSING_REQUESTS__MAX_PHOTO_BYTES:"
                " the upload carries the photo and its form"
            )
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.auth.secure_cookies is not None:
            return self.auth.secure_cookies
        return self.environment is Environment.production
