"""All configuration in one pydantic-settings class, read from HOUSING_* variables.

Nested groups use a double underscore: HOUSING_DB__URL, HOUSING_AUTH__SECRET_KEY.
"""

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused outside development


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
    pool_size: int = Field(10, ge=1, description="Connections kept per process (PostgreSQL)")


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
    timezone: str = Field("Asia/Tashkent", description="Time zone of the job calendar")
    heartbeat_file: Path = Field(
        Path("/tmp/housing-worker.heartbeat"),  # noqa: S108 - a liveness marker, no secrets
        description="Touched by the worker every 30 s; its health check reads the age",
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
    verification_warning_days: int = Field(
        30, ge=1, description="Warn this long before a meter's verification is due"
    )
    hot_water_min_c: float = Field(60.0, description="Hot water at the tap must be at least this warm")
    hot_water_allowed_deviation_c: float = Field(
        5.0, description="Tolerated shortfall before an incident opens"
    )
    indoor_min_c: float = Field(
        18.0, description="Living rooms must be at least this warm in the heating season"
    )
    heating_season: str = Field("10-15..04-15", description="MM-DD..MM-DD, the heating season")
    partitions_ahead: int = Field(
        3, ge=1, description="Monthly reading partitions created ahead (PostgreSQL)"
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
    timezone: str = Field("Asia/Tashkent", description="Time zone pages show times in")
    db: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    mqtt: MqttSettings = MqttSettings()
    meters: MeterSettings = MeterSettings()
    stripe: StripeSettings = StripeSettings()
    requests: RequestSettings = RequestSettings()
    open311: Open311Settings = Open311Settings()

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

    @property
    def secure_cookies(self) -> bool:
        if self.auth.secure_cookies is not None:
            return self.auth.secure_cookies
        return self.environment is Environment.production
