"""All configuration, read once from `CVMS_`-prefixed environment variables."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.business_hours import BusinessCalendar
from domain.payload_keys import KeyRing, KeyRingError
from domain.signing_keys import load_pem_signing_key, load_signing_key
from domain.sla import SlaTargets

if TYPE_CHECKING:
    from joserfc.jwk import ECKey

STATE_DIR = Path(".cvms")
# The secret key the code once shipped with: known to everyone, so refused outside development.
DEFAULT_SECRET_KEY = "dev-insecure-secret-change-me"
KNOWN_SECRET_KEYS = frozenset({DEFAULT_SECRET_KEY, "change-me", "changeme", "secret"})
MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CVMS_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{STATE_DIR}/cvms.db",
        description="SQLAlchemy async URL (sqlite+aiosqlite:///… or postgresql+asyncpg://…)",
    )
    temporal_address: str = Field(default="127.0.0.1:7233", description="Temporal frontend host:port")
    temporal_namespace: str = Field(default="default", description="Temporal namespace")
    temporal_task_queue: str = Field(default="cvms", description="Task queue of the cvms worker")
    temporal_tls_cert: Path | None = Field(default=None, description="Client certificate (PEM) for mTLS")
    temporal_tls_key: Path | None = Field(default=None, description="Client key (PEM) for mTLS")
    temporal_api_key: str | None = Field(default=None, description="API key (Temporal Cloud)")
    temporal_deadline_seconds: float = Field(
        default=4.0,
        gt=0,
        le=60,
        description="How long a request waits for Temporal (and a worker to take an update) before a 503",
    )
    temporal_retry_after_seconds: int = Field(
        default=5, ge=1, le=600, description="Retry-After of a 503 when Temporal or the worker is unavailable"
    )
    reconcile_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often the worker starts the workflows requests promised but could not start",
    )

    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay host")
    smtp_port: int = Field(default=8025, ge=1, le=65535, description="SMTP relay port")
    smtp_user: str | None = Field(default=None, description="SMTP user name, if the relay needs one")
    smtp_password: str | None = Field(default=None, description="SMTP password")
    smtp_tls: bool = Field(default=False, description="Use implicit TLS to the relay")
    smtp_starttls: bool = Field(default=False, description="Upgrade to TLS with STARTTLS")
    mail_from: str = Field(default="cvms <no-reply@cvms.example>", description="Sender address")

    public_base_url: str = Field(default="http://127.0.0.1:8000", description="Base URL in links")
    secret_key: str = Field(
        default=DEFAULT_SECRET_KEY,
        min_length=16,
        description=(
            "Signs recipient links and tokens: a random value of at least 32 characters, required "
            "outside the development stack (`make dev` makes one in .cvms/)"
        ),
    )
    payload_keys: str = Field(
        default="",
        description=(
            "Keys sealing Temporal payloads (AES-256-GCM): id:base64-of-32-bytes, separated by commas; "
            "the first seals, all open. Required outside the development stack"
        ),
    )
    temporal_ui_origins: str = Field(
        default="",
        description="Origins of the Temporal Web UI allowed to call the codec endpoint (commas)",
    )
    health_card_key: str | None = Field(
        default=None,
        description=(
            "SMART Health Card signing key: an EC P-256 private key as PEM text or the path of a PEM file; "
            "unset: derived from CVMS_SECRET_KEY"
        ),
    )
    day_seconds: float = Field(
        default=86400, gt=0, description="Length of one 'day' of dose rules and reminder offsets"
    )
    reminder_lead_seconds: float = Field(
        default=86400, ge=0, description="How long before an appointment the reminder is sent"
    )
    helpdesk_hours: str = Field(
        default="mon-fri 07:00-19:00; sat 08:00-16:00",
        description="Help-desk business hours in its time zone ('mon-fri 07:00-19:00; sat …' or 'always')",
    )
    helpdesk_time_zone: str = Field(default="America/New_York", description="Help-desk calendar time zone")
    programme_time_zone: str = Field(
        default="America/New_York",
        description="Time zone of the programme report across all locations (its days and weeks)",
    )
    helpdesk_holidays: str = Field(
        default="2026-01-01,2026-01-19,2026-05-25,2026-07-03,2026-09-07,2026-11-11,2026-11-26,2026-12-25",
        description="Help-desk holidays (closed all day): ISO dates separated by commas",
    )
    helpdesk_sla_targets: str = Field(
        default="urgent=1h/4h/1h,high=2h/8h/2h,normal=4h/24h/4h,low=8h/48h/8h",
        description=(
            "Business-time targets per priority: priority=first_response/resolution/next_update (s, m or h);"
            " without the third, that priority has no next-update clock"
        ),
    )
    helpdesk_reopen_window_seconds: float = Field(
        default=7 * 86400, gt=0, description="How long after resolution a case can be reopened"
    )
    helpdesk_auto_close_seconds: float = Field(
        default=3 * 86400, gt=0, description="How long a resolved case waits before it closes by itself"
    )
    helpdesk_survey_delay_seconds: float = Field(
        default=24 * 3600,
        ge=0,
        description=(
            "Business time (help-desk hours) after resolution before the requester is asked to rate the"
            " case; 0 sends no survey"
        ),
    )
    helpdesk_survey_link_max_age_seconds: float = Field(
        default=30 * 86400, gt=0, description="How long the rating links of a satisfaction survey work"
    )
    helpdesk_registration_code: str = Field(
        default="CVMS-HELP-2026",
        min_length=4,
        description="Generic help-desk registration code (a location's provider PIN also works)",
    )
    helpdesk_attachment_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=0, description="Largest attachment accepted on a case"
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body (JSON, forms) the API reads; a larger one is a 413",
    )
    max_upload_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest file upload or help-desk intake (with its attachment) the API reads",
    )
    helpdesk_attachment_types: str = Field(
        default="application/pdf,image/png,image/jpeg,text/plain",
        description="Attachment content types accepted on a case, separated by commas",
    )
    helpdesk_mail_address: str = Field(
        default="help@cvms.example",
        description="The help desk's own address: replies to case email go to it (Reply-To, X-Loop)",
    )
    helpdesk_mail_topic: str = Field(
        default="other/other",
        description="Category/topic codes of a case opened by email when no mail route matches",
    )
    helpdesk_mail_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="Largest inbound help-desk message the receiver takes"
    )
    mail_receiver_host: str = Field(default="127.0.0.1", description="Help-desk mail receiver listen address")
    mail_receiver_port: int = Field(
        default=8026, ge=1, le=65535, description="Help-desk mail receiver (SMTP) listen port"
    )
    attachment_dir: Path | None = Field(
        default=None,
        description="Folder or mounted volume for case attachments (unset: attachments/ in the state folder)",
    )
    attachment_bucket: str = Field(
        default="", description="S3-compatible bucket holding case attachments instead of the folder"
    )
    attachment_s3_endpoint: str = Field(
        default="", description="Endpoint URL of the S3-compatible service (empty: AWS)"
    )
    helpdesk_presence_seconds: float = Field(
        default=90,
        gt=0,
        description="How long an agent's opening of a case (or replying) shows to other agents",
    )
    journey_idle_close_days: float = Field(
        default=30,
        gt=0,
        description="Days (of CVMS_DAY_SECONDS) after which a journey with nothing booked or given closes",
    )
    recipient_link_max_age_seconds: float = Field(
        default=120 * 86400,
        gt=0,
        description="How long a recipient's signed link (appointment, booking, record) stays valid",
    )
    waitlist_offer_hold_seconds: float = Field(
        default=30 * 60,
        gt=0,
        description="How long a seat offered to the next person on a waitlist is held for them",
    )
    seat_hold_seconds: float = Field(
        default=10 * 60,
        gt=0,
        description="How long a chosen seat is held while the person's registration is filled in",
    )
    finder_cache_seconds: float = Field(
        default=10,
        ge=0,
        description="s-maxage of the public finder's responses (stale-while-revalidate is 6x)",
    )
    finder_server_cache_seconds: float = Field(
        default=1,
        ge=0,
        description="How long an API process reuses a public finder answer it just gave (0: never)",
    )
    waiting_room_refresh_seconds: float = Field(
        default=1,
        ge=0,
        description="How often an API process admits and re-reads a waiting room's line (0: every look)",
    )
    self_registration_code_seconds: float = Field(
        default=15 * 60,
        gt=0,
        description="How long the email code of a self-registration from the public finder is valid",
    )
    self_registration_code_attempts: int = Field(
        default=5, ge=1, description="Wrong email codes a self-registration takes before it must start again"
    )
    self_registration_per_address: str = Field(
        default="20/hour",
        description="Self-registrations one client address may start (a limits rate, e.g. 20/hour)",
    )
    self_registration_per_email: str = Field(
        default="3/hour",
        description="Self-registrations (codes sent) one email address may get (a limits rate, e.g. 3/hour)",
    )
    upload_chunk_rows: int = Field(
        default=100, ge=1, le=10_000, description="Rows of a background CSV upload registered per step"
    )
    upload_chunk_pause_seconds: float = Field(
        default=0,
        ge=0,
        description="Pause between a background CSV upload's steps (leaves the database to other work)",
    )
    session_hours: float = Field(
        default=12, gt=0, description="Absolute lifetime of a login session, however active it is"
    )
    session_idle_minutes: float = Field(
        default=60, gt=0, description="A login session ends after this long without a request"
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed logins per login name before each further attempt waits (4x per client address)",
    )
    login_window_seconds: float = Field(
        default=900, gt=0, description="How long failed logins are remembered for the delay"
    )
    login_delay_seconds: float = Field(
        default=1, gt=0, description="First delay after too many failed logins; it doubles with each failure"
    )
    login_delay_max_seconds: float = Field(
        default=300, gt=0, description="Longest delay between login attempts"
    )
    login_throttle_storage: str = Field(
        default="memory://",
        description="Where failed logins are counted (limits storage URI: memory://, redis://host:6379, …)",
    )
    login_device_days: float = Field(
        default=180, gt=0, description="How long a browser that has logged in is known (never delayed)"
    )
    trusted_proxies: str = Field(
        default="",
        description="Proxies whose X-Forwarded-For/-Proto are believed (addresses/networks, by commas)",
    )
    password_hash_workers: int = Field(
        default=2, ge=1, le=64, description="Threads that hash and check passwords (beside the event loop)"
    )
    dev_stack: bool = Field(default=False, description="Development stack: enables /dev/mail")

    api_host: str = Field(default="127.0.0.1", description="API listen address")
    api_port: int = Field(default=8000, ge=1, le=65535, description="API listen port")
    worker_health_port: int = Field(
        default=8081, ge=0, le=65535, description="Worker's /healthz, /readyz and /metrics port (0: none)"
    )
    traces_file: Path | None = Field(
        default=None, description="Write OpenTelemetry spans here as JSON lines (unset: spans go nowhere)"
    )
    temporal_port: int = Field(default=7233, ge=1, le=65535, description="Dev Temporal port")
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535, description="Dev Temporal UI port")
    state_dir: Path = Field(default=STATE_DIR, description="Where the dev stack keeps its files")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("payload_keys")
    @classmethod
    def _readable_payload_keys(cls, value: str) -> str:
        try:
            KeyRing.parse(value)
        except KeyRingError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ip_network(part.strip(), strict=False)  # a ValueError names the bad entry
        return value

    @field_validator("health_card_key")
    @classmethod
    def _readable_signing_key(cls, value: str | None) -> str | None:
        # Read it once here, so a missing file or a wrong key type fails at start-up.
        if value:
            try:
                load_pem_signing_key(value)
            except (OSError, TypeError, ValueError) as exc:
                raise ValueError(str(exc).split(". ")[0]) from None
        return value

    @model_validator(mode="after")
    def _helpdesk_calendar_and_targets(self) -> Settings:
        # Read them once here, so a bad calendar or target fails at start-up, not in a workflow.
        self.helpdesk_calendar()
        self.helpdesk_targets()
        return self

    def payload_key_ring(self) -> KeyRing:
        return KeyRing.parse(self.payload_keys)

    @property
    def temporal_ui_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.temporal_ui_origins.split(",") if o.strip()]

    def health_card_signing_key(self) -> ECKey:
        return load_signing_key(self.health_card_key, self.secret_key)

    def helpdesk_calendar(self) -> BusinessCalendar:
        holidays = () if self.helpdesk_hours.strip().lower() == "always" else self.helpdesk_holidays
        return BusinessCalendar.from_spec(self.helpdesk_hours, tz=self.helpdesk_time_zone, holidays=holidays)

    def helpdesk_targets(self) -> SlaTargets:
        return SlaTargets.parse(self.helpdesk_sla_targets)

    @property
    def helpdesk_attachment_type_list(self) -> frozenset[str]:
        return frozenset(t.strip().lower() for t in self.helpdesk_attachment_types.split(",") if t.strip())

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(
            ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip()
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class SettingsError(SystemExit):
    """Raised at start-up when a setting is missing or malformed; names the variable."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CVMS_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


def check_keys(settings: Settings) -> Settings:
    """At start-up of the API and the worker: outside the development stack the secret key must be
    long, random and not a known default, and payloads must have a key to be sealed with."""
    if settings.dev_stack:
        return settings
    key = settings.secret_key
    if key in KNOWN_SECRET_KEYS or key.lower().startswith("dev-insecure"):
        raise SettingsError(
            "invalid settings: CVMS_SECRET_KEY is the known default; set a random value of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            f"invalid settings: CVMS_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters; "
            "set a long random value"
        )
    if not settings.payload_key_ring():
        raise SettingsError(
            "invalid settings: CVMS_PAYLOAD_KEYS is missing; set id:base64-of-32-random-bytes "
            "(python -c 'import base64, os; print(\"k1:\" + base64.b64encode(os.urandom(32)).decode())')"
        )
    return settings


@lru_cache
def get_settings() -> Settings:
    return load_settings()
