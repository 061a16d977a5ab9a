"""The one place that reads configuration (environment variables and `.env`)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# `make dev` writes its local endpoints and secrets here (see scripts/dev.py); every later
# command on this machine reads them, so a second terminal needs no exports.
DEV_STATE_FILE = "dev.env"
# Development only: production refuses it (it starts with "dev-only", a placeholder).
DEV_JWT_SECRET = "dev-only-jwt-secret-not-for-production"  # noqa: S105 - a known placeholder

# Values people paste from examples. In production they are as bad as no secret at all.
_PLACEHOLDERS = {
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "placeholder",
    "todo",
    "xxx",
    "dev",
    "development",
    "test",
}
# HS256 wants a key of at least 32 bytes (RFC 7518 3.2); the same floor suits every secret.
MIN_SECRET_LENGTH = 32
# Enough for the requests one Fluid compute instance serves at once; the pooler holds the rest.
DEFAULT_POOL_SIZE = 5


def is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return (
        lowered in _PLACEHOLDERS
        or lowered.startswith(("change-me", "changeme", "your-", "your_", "<", "dev-only"))
        or len(lowered) < MIN_SECRET_LENGTH
    )


def state_dir() -> Path:
    """The folder of local state (the SQLite file, the embedded queue, `make dev`'s file).

    `TALLY_STATE_DIR` when set; else `.tally/` at the root of the checkout this code runs from,
    so a command started from any directory finds the same database; else (an installed copy
    with no checkout around it) `.tally/` in the working directory.
    """
    configured = os.environ.get("TALLY_STATE_DIR", "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return root / ".tally"
    return Path.cwd() / ".tally"


def default_sqlite_url() -> str:
    return f"sqlite:///{state_dir() / 'tally.db'}"


def _has_jwks_extra() -> bool:
    """PyJWT verifies RS256/ES256 only with `cryptography` (15 MB: the optional `jwks` extra)."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


class ConfigError(RuntimeError):
    """Start-up refused: the message names the variable, never its value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = Field(default_factory=default_sqlite_url)
    # Connections kept per process. Unset: a small pool, except on plain AWS Lambda, which
    # freezes the process between invocations (a kept connection would outlive its server
    # session there). 0 opens a connection per use. See `pool_size` below.
    database_pool_size: int | None = Field(default=None, ge=0, le=50)
    database_pool_max_overflow: int = Field(default=2, ge=0, le=50)
    # A pooled connection idle for longer is closed and replaced at its next use, before a
    # server or a pooler (Neon, Supabase) drops it on its own.
    database_pool_idle_seconds: float = Field(default=60.0, gt=0, le=3600)
    database_connect_timeout_seconds: int = Field(default=10, ge=1, le=120)

    upstash_redis_rest_url: str = Field(
        default="", validation_alias=AliasChoices("UPSTASH_REDIS_REST_URL", "KV_REST_API_URL")
    )
    upstash_redis_rest_token: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("UPSTASH_REDIS_REST_TOKEN", "KV_REST_API_TOKEN"),
    )
    upstash_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    upstash_retries: int = Field(default=1, ge=0, le=5)
    upstash_retry_interval_seconds: float = Field(default=0.2, ge=0, le=10)

    cron_secret: SecretStr | None = None
    admin_secret: SecretStr | None = None
    auth_jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    auth_jwt_issuer: str | None = None
    auth_jwt_audience: str | None = None
    # The identity provider's key set: RS256/ES256 tokens instead of HS256 with the secret.
    auth_jwks_url: str | None = None
    auth_jwks_cache_seconds: float = Field(default=300.0, gt=0, le=86_400)
    # The least time between two fetches made because a token named an unknown key id.
    auth_jwks_refetch_cooldown_seconds: float = Field(default=30.0, ge=0, le=3600)
    auth_jwks_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # The claim holding the user's email address (Auth0 wants a namespaced custom claim).
    auth_email_claim: str = Field(default="email", min_length=1, max_length=200)

    queue_prefix: str = Field(default="tally", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    drain_batch_size: int = Field(default=100, ge=1, le=1000)
    # Transactions the drain holds in memory at once, whatever the batch's histories.
    drain_max_batch_rows: int = Field(default=5000, ge=100, le=1_000_000)
    drain_budget_seconds: float = Field(default=20.0, gt=0, le=900)
    # The longest a cron run may drain: vercel.json's maxDuration (300 s) less a margin for the
    # cold start and the run's last settle (a test holds the two together).
    drain_max_budget_seconds: float = Field(default=280.0, gt=0, le=900)
    lease_seconds: int = Field(default=120, ge=1)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_base_seconds: float = Field(default=10.0, ge=0)
    retry_max_seconds: float = Field(default=3600.0, ge=0)
    reconcile_grace_seconds: int = Field(default=300, ge=0)
    reconcile_batch_size: int = Field(default=500, ge=0, le=10000)

    # The after-response kick (core/drain/kick.py). Unset: on, except on plain AWS Lambda, where
    # Mangum waits for background tasks before it returns, so a kick would delay the response.
    kick_after_write: bool | None = None
    kick_budget_seconds: float = Field(default=5.0, gt=0, le=60)
    # Between two runs of one kick: how long no new write must land before it runs again.
    kick_quiet_seconds: float = Field(default=0.2, gt=0, le=5)

    # The currency of statement rows that name none, when the upload form gives none either.
    # Unset: such an upload is refused with a 422 saying so (a guessed USD mis-sums a EUR file).
    default_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    upload_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    upload_max_rows: int = Field(default=50_000, ge=1)

    notify_email_from: str | None = None
    aws_region: str | None = None
    notify_webhook_url: str | None = None
    notify_webhook_secret: SecretStr | None = None

    # Set by the platforms themselves: Vercel sets VERCEL=1 (and runs on Lambda, but keeps an
    # instance serving many requests under Fluid compute); plain Lambda sets only the name.
    vercel: str | None = None
    aws_lambda_function_name: str | None = None

    log_level: str = "INFO"
    # Development only: `make dev` puts upstash_local in front of this Redis instead of the
    # embedded in-process one.
    redis_url: str | None = None

    @property
    def pool_size(self) -> int:
        """Connections the engine keeps: the configured size, else 5 (0 on plain Lambda)."""
        if self.database_pool_size is not None:
            return self.database_pool_size
        return 0 if self.on_plain_lambda else DEFAULT_POOL_SIZE

    @property
    def on_plain_lambda(self) -> bool:
        return bool(self.aws_lambda_function_name) and not self.vercel

    @property
    def kick_enabled(self) -> bool:
        """KICK_AFTER_WRITE when set; else on, except on plain Lambda (see the field)."""
        if self.kick_after_write is not None:
            return self.kick_after_write
        return not self.on_plain_lambda

    @field_validator(
        "cron_secret",
        "admin_secret",
        "notify_webhook_secret",
        "auth_jwt_issuer",
        "auth_jwt_audience",
        "auth_jwks_url",
        "notify_email_from",
        "aws_region",
        "notify_webhook_url",
        "redis_url",
        "kick_after_write",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `.env.example` lists every name with an empty value; empty must mean "not set".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("auth_jwt_secret", mode="before")
    @classmethod
    def _empty_jwt_secret_is_the_default(cls, value: object) -> object:
        # An empty key would make every token check fail inside PyJWT (a 500 on every request);
        # production still refuses the default.
        if isinstance(value, str) and not value.strip():
            return DEV_JWT_SECRET
        return value

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def effective_admin_secret(self) -> SecretStr | None:
        return self.admin_secret or self.cron_secret

    @property
    def queue_configured(self) -> bool:
        return bool(self.upstash_redis_rest_url)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if not self.is_production:
            return self
        problems: list[str] = []
        required: dict[str, SecretStr | None] = {
            "CRON_SECRET": self.cron_secret,
            "UPSTASH_REDIS_REST_TOKEN": self.upstash_redis_rest_token,
        }
        optional: dict[str, SecretStr | None] = {
            "ADMIN_SECRET": self.admin_secret,
            "NOTIFY_WEBHOOK_SECRET": self.notify_webhook_secret,
        }
        if self.auth_jwks_url is None:
            # With a JWKS the provider's keys sign the tokens: no shared secret is used.
            required["AUTH_JWT_SECRET"] = self.auth_jwt_secret
        elif not self.auth_jwks_url.startswith("https://"):
            problems.append("AUTH_JWKS_URL must be an https:// URL in production")
        elif not self.auth_jwt_issuer:
            problems.append("AUTH_JWT_ISSUER is required in production when AUTH_JWKS_URL is set")
        elif not _has_jwks_extra():
            problems.append(
                "AUTH_JWKS_URL needs the 'jwks' extra for RS256/ES256 (pip install 'tally[jwks]'; "
                "on Vercel add 'pyjwt[crypto]' to pyproject.toml's dependencies)"
            )
        for name, value in required.items():
            if value is None or not value.get_secret_value():
                problems.append(f"{name} is required in production")
            elif is_placeholder(value.get_secret_value()):
                problems.append(
                    f"{name} looks like a placeholder (use a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters)"
                )
        for name, value in optional.items():
            if value is not None and is_placeholder(value.get_secret_value()):
                problems.append(f"{name} looks like a placeholder")
        if not self.upstash_redis_rest_url:
            problems.append("UPSTASH_REDIS_REST_URL (or KV_REST_API_URL) is required in production")
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL must point at Postgres in production")
        if self.notify_webhook_url and self.notify_webhook_secret is None:
            problems.append("NOTIFY_WEBHOOK_SECRET is required when NOTIFY_WEBHOOK_URL is set")
        if problems:
            raise ConfigError("refusing to start: " + "; ".join(problems))
        return self


def environment_names() -> set[str]:
    """Every environment variable Settings reads: field names and their aliases (tests and
    scratch runs clear exactly these, so nothing leaks in from a developer's shell)."""
    names = set()
    for field_name, info in Settings.model_fields.items():
        names.add(field_name.upper())
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
    return names


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    # Later files win, and the environment wins over both: `.env` is the developer's own
    # configuration, the state file only what `make dev` generated.
    return Settings(_env_file=(state_dir() / DEV_STATE_FILE, ".env"))
