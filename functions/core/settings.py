"""Typed settings, read once from the environment (stage values come from .chalice/config.json).

This is the one module that reads the environment. A few values are read on each use instead of once
(the functions at the end): the secrets' local fallbacks and where the secret lives (tests switch
them), and the moved calendar (the `billow` CLI follows a running stack's)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    jwt_issuer: str
    jwks_url: str
    jwt_audiences: tuple[str, ...]
    scope_prefix: str
    cursor_secret: str = field(repr=False)
    max_body_bytes: int
    jwks_cache_seconds: int
    idempotency_lease_seconds: int
    idempotency_ttl_seconds: int
    log_level: str
    seller_name: str = "billow"
    seller_address: tuple[str, ...] = ()
    seller_email: str = ""
    seller_tax_id: str = ""
    pdf_url_seconds: int = 300
    # Stripe: "" = api.stripe.com; the local stack points it at its Stripe shim (local/stripe_shim.py).
    stripe_api_base: str = ""
    stripe_max_attempts: int = 4  # per Stripe call, on 429 and network errors (same idempotency key)
    stripe_timeout_seconds: float = 10.0
    # A queue consumer starts the next message of a batch only with this much time left (0: no limit); the
    # stack sets it per consumer to one message's worst case (infra/budgets.py).
    message_budget_seconds: float = 0.0
    # Payments: where PayPal may send the customer back to (origins), and who hears about tickets/disputes.
    paypal_return_origins: tuple[str, ...] = ()
    support_email: str = "support@billow.example"
    operator_email: str = "billing-ops@billow.example"
    # The billing run: days after the invoice when a failed charge is tried again (dunning), and the
    # console whose payment page a 3-D Secure notice links to.
    dunning_days: tuple[int, ...] = (3, 7, 14)
    console_url: str = "https://console.billow.example"
    # The collector (DESIGN §3 v4): how long after an invoice its collection waits (invoices issued close
    # together ride in one charge), and how long a balance below the minimum is carried before it is
    # written off.
    collection_delay_seconds: int = 60
    carry_write_off_days: int = 60
    # Resources named by the deployment (infra/lambdas.py); "" = the bucket derived from the table prefix.
    invoice_bucket: str = ""
    email_from: str = "billing@billow.example"
    # CORS (DESIGN §8, functions/core/cors.py): the browser origins of the stage's consoles. Only the local
    # and test stages have a default (the console `make run` serves); a deployed stage names its own.
    cors_origins: tuple[str, ...] = ()
    # Observability (docs/operations.md): the SES configuration set every e-mail names ("" locally: none).
    ses_configuration_set: str = ""
    # X-Ray through Powertools Tracer (functions/core/tracing.py): on in deployed functions only.
    tracing: bool = False
    # The EventBridge bus outbound events are put on (infra/ names it); "" = derived from the table prefix.
    event_bus: str = ""
    # Outbound webhooks (DESIGN §7, docs/events.md "Webhooks"): the KMS key that encrypts endpoint secrets
    # ("" = the alias derived from the table prefix), each POST's timeout, the retry schedule (first
    # retry after `webhook_retry_base_seconds`, x4 each time up to the cap, for about the window) and how
    # long an endpoint may fail before it is disabled.
    webhook_kms_key: str = ""
    webhook_timeout_seconds: float = 10.0
    webhook_retry_base_seconds: int = 30
    webhook_retry_cap_seconds: int = 12 * 3600
    webhook_retry_window_seconds: int = 3 * 86400
    webhook_disable_after_seconds: int = 5 * 86400


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"missing required setting {name}")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; computed on first use, never re-read."""
    return Settings(
        stage=_env("BILLOW_STAGE", "local"),
        region=_env("AWS_DEFAULT_REGION", "us-east-1"),
        table_prefix=_env("BILLOW_TABLE_PREFIX", "billow-local-"),
        jwt_issuer=_env("BILLOW_JWT_ISSUER", "http://127.0.0.1/billow-local"),
        jwks_url=_env("BILLOW_JWKS_URL", ""),
        jwt_audiences=_split(_env("BILLOW_JWT_AUDIENCE", "billow-console")),
        scope_prefix=_env("BILLOW_SCOPE_PREFIX", "billow/"),
        cursor_secret=_env("BILLOW_CURSOR_SECRET", "local-cursor-secret-change-me"),
        max_body_bytes=int(_env("BILLOW_MAX_BODY_BYTES", "262144")),
        jwks_cache_seconds=int(_env("BILLOW_JWKS_CACHE_SECONDS", "600")),
        idempotency_lease_seconds=int(_env("BILLOW_IDEMPOTENCY_LEASE_SECONDS", "60")),
        idempotency_ttl_seconds=int(_env("BILLOW_IDEMPOTENCY_TTL_SECONDS", str(7 * 24 * 3600))),
        log_level=_env("BILLOW_LOG_LEVEL", "INFO"),
        # the seller block of invoice PDFs; address lines separated by "|"
        seller_name=_env("BILLOW_SELLER_NAME", "Billow Cloud SAS"),
        seller_address=tuple(
            line.strip()
            for line in _env("BILLOW_SELLER_ADDRESS", "12 rue de la Paix|75002 Paris|France").split("|")
            if line.strip()
        ),
        seller_email=_env("BILLOW_SELLER_EMAIL", "billing@billow.example"),
        seller_tax_id=_env("BILLOW_SELLER_TAX_ID", "FR 00 123456789"),
        pdf_url_seconds=int(_env("BILLOW_PDF_URL_SECONDS", "300")),
        stripe_api_base=_env("BILLOW_STRIPE_API_BASE", "").rstrip("/"),
        stripe_max_attempts=max(1, int(_env("BILLOW_STRIPE_MAX_ATTEMPTS", "4"))),
        stripe_timeout_seconds=float(_env("BILLOW_STRIPE_TIMEOUT_SECONDS", "10")),
        message_budget_seconds=float(_env("BILLOW_MESSAGE_BUDGET_SECONDS", "0")),
        paypal_return_origins=_split(
            _env("BILLOW_PAYPAL_RETURN_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000,http://localhost:3000")
        ),
        support_email=_env("BILLOW_SUPPORT_EMAIL", "support@billow.example"),
        operator_email=_env("BILLOW_OPERATOR_EMAIL", "billing-ops@billow.example"),
        dunning_days=tuple(int(x) for x in _env("BILLOW_DUNNING_DAYS", "3,7,14").split(",") if x.strip()),
        console_url=_env("BILLOW_CONSOLE_URL", "https://console.billow.example").rstrip("/"),
        collection_delay_seconds=int(_env("BILLOW_COLLECTION_DELAY_SECONDS", "60")),
        carry_write_off_days=int(_env("BILLOW_CARRY_WRITE_OFF_DAYS", "60")),
        invoice_bucket=_env("BILLOW_INVOICE_BUCKET", ""),
        email_from=_env("BILLOW_EMAIL_FROM", "billing@billow.example"),
        cors_origins=_origins(_env("BILLOW_CORS_ORIGINS", "")),
        ses_configuration_set=_env("BILLOW_SES_CONFIGURATION_SET", ""),
        tracing=_env("BILLOW_TRACING", "0") == "1",
        event_bus=_env("BILLOW_EVENT_BUS", ""),
        webhook_kms_key=_env("BILLOW_WEBHOOK_KMS_KEY", ""),
        webhook_timeout_seconds=float(_env("BILLOW_WEBHOOK_TIMEOUT_SECONDS", "10")),
        webhook_retry_base_seconds=int(_env("BILLOW_WEBHOOK_RETRY_BASE_SECONDS", "30")),
        webhook_retry_cap_seconds=int(_env("BILLOW_WEBHOOK_RETRY_CAP_SECONDS", str(12 * 3600))),
        webhook_retry_window_seconds=int(_env("BILLOW_WEBHOOK_RETRY_WINDOW_SECONDS", str(3 * 86400))),
        webhook_disable_after_seconds=int(_env("BILLOW_WEBHOOK_DISABLE_AFTER_SECONDS", str(5 * 86400))),
    )


LOCAL_CONSOLE_ORIGINS = ("http://127.0.0.1:3000", "http://localhost:3000")


def _origins(value: str) -> tuple[str, ...]:
    """BILLOW_CORS_ORIGINS (comma-separated origins, no trailing slash); unset on the local and test
    stages: the console `make run` serves by default (local/run.py adds the port it bound)."""
    if value.strip():
        return tuple(origin.rstrip("/") for origin in _split(value))
    return LOCAL_CONSOLE_ORIGINS if os.environ.get("BILLOW_STAGE", "local") in ("local", "test") else ()


def reset_settings() -> None:
    """Forget the cached settings (tests that change the environment call this)."""
    get_settings.cache_clear()


# ---- read on each use ----------------------------------------------------------------------------


def moved_calendar() -> tuple[str, str]:
    """(BILLOW_TODAY, BILLOW_STAGE) as set now: functions/core/clock.py reads them at import and on
    reset (the `billow` CLI sets BILLOW_TODAY to follow a running stack's calendar, then resets)."""
    return os.environ.get("BILLOW_TODAY", "").strip(), os.environ.get("BILLOW_STAGE", "local")


def secrets_source() -> tuple[str, float]:
    """(BILLOW_SECRETS_ARN, BILLOW_SECRETS_CACHE_SECONDS): the Secrets Manager secret, "" when none
    (the local stack, tests), and how long its values are kept (functions/core/secrets.py)."""
    return os.environ.get("BILLOW_SECRETS_ARN", ""), float(os.environ.get("BILLOW_SECRETS_CACHE_SECONDS", "300"))


def secret_from_environment(variable: str) -> str:
    """A secret's local fallback (STRIPE_SECRET_KEY, …), read on each use: never cached in settings."""
    return os.environ.get(variable, "")
