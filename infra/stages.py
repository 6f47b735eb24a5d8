"""Stage settings for the CDK app: what .chalice/config.json says about a stage, plus the stage's
settings file (infra/settings.py declares every key; `infra/settings/<stage>.json` holds a stage's values).

The two sources never say the same thing twice: table, queue and log names come from the Chalice
stage's BILLOW_TABLE_PREFIX; the Lambda environment, memory and timeout from the Chalice stage (per
function, as `chalice deploy` would resolve them); the seller, addresses, console origins and AWS-side
choices (sender, alarms, throttling, issuer, console hosting) from the settings file. `check_agreement`
refuses a Chalice stage that sets what the stack or the settings provide; `stage_settings` refuses a
settings file with a missing or placeholder value, one line per value (infra/settings.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalice.config import Config

from infra.settings import SETTINGS_ENV, check, hosting_of, lambda_environment, read_settings_file

ROOT = Path(__file__).resolve().parents[1]
CDK_JSON = ROOT / "infra" / "cdk.json"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
STAGES_KEY = "billow:stages"  # context: {stage: settings} given in memory (tests), instead of the files
SETTINGS_DIR_KEY = "billow:settingsDir"  # context: the directory of <stage>.json files (relative: to infra/)
SETTINGS_FILE_KEY = "billow:settingsFile"  # context: one settings file, for the one stage synthesized
DEFAULT_SETTINGS_DIR = ROOT / "infra" / "settings"
PACKAGE_DIR_KEY = "billow:packageDir"
LOCAL_ONLY_STAGES = frozenset({"local"})  # the laptop stack (make run): never deployed

# Environment variables the stack sets from the resources it creates: a Chalice stage must not set them.
STACK_PROVIDED_ENV = (
    frozenset(
        {
            "BILLOW_JWT_ISSUER",
            "BILLOW_JWKS_URL",
            "BILLOW_JWT_AUDIENCE",
            "BILLOW_INVOICE_BUCKET",
            "BILLOW_EMAIL_FROM",
            "BILLOW_SECRETS_ARN",
            "BILLOW_CURSOR_SECRET",
            # the Stripe retries and a consumer's per-message reserve: each function's budget (infra/budgets.py)
            "BILLOW_STRIPE_MAX_ATTEMPTS",
            "BILLOW_STRIPE_TIMEOUT_SECONDS",
            "BILLOW_MESSAGE_BUDGET_SECONDS",
            "BILLOW_WEBHOOK_KMS_KEY",
            "BILLOW_CORS_ORIGINS",
            "BILLOW_EVENT_BUS",
            "BILLOW_TRACING",
            "BILLOW_SES_CONFIGURATION_SET",
        }
    )
    | SETTINGS_ENV
)
_ORIGIN = re.compile(r"(https://[a-z0-9.-]+(:\d{1,5})?|http://(localhost|127\.0\.0\.1)(:\d{1,5})?)")


class StageError(ValueError):
    """The stage settings are missing, contradictory or unsafe."""


@dataclass(frozen=True)
class ExistingIssuer:
    """A JWT issuer billow trusts instead of creating a Cognito user pool."""

    issuer: str
    jwks_url: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class ConsoleHosting:
    """The console on S3 + CloudFront (infra/console.py); no domain: CloudFront's own."""

    domain_name: str | None
    certificate_arn: str | None
    publishable_key: str


@dataclass(frozen=True)
class StageSettings:
    name: str
    table_prefix: str
    api_gateway_stage: str
    email_from: str
    email_domain: str | None
    email_identity_exists: bool
    alarm_email: str | None
    throttle_rate: int
    throttle_burst: int
    invoice_retention_days: int
    log_retention_days: int
    cognito_domain_prefix: str | None
    console_origins: tuple[str, ...]
    existing_issuer: ExistingIssuer | None
    console_hosting: ConsoleHosting | None = None
    settings_env: dict[str, str] = field(default_factory=dict)  # what the settings put in every function's env
    account: str | None = None
    region: str | None = None
    chalice_config: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def console_callback_urls(self) -> tuple[str, ...]:
        """Cognito's allowed redirects: each console origin's root (the console routes by hash)."""
        return tuple(f"{origin}/" for origin in self.console_origins)

    @property
    def console_logout_urls(self) -> tuple[str, ...]:
        return self.console_callback_urls

    @property
    def stack_name(self) -> str:
        return f"Billow{self.name.capitalize()}"

    def physical_name(self, name: str) -> str:
        """The name of a table or queue for this stage, as the app computes it from its table prefix."""
        return f"{self.table_prefix}{name}"

    def function_config(self, function_name: str) -> Config:
        """Chalice's resolved configuration of one function (API handler: 'api_handler') in this stage."""
        return Config(chalice_stage=self.name, config_from_disk=self.chalice_config).scope(self.name, function_name)


def load_cdk_context(path: Path = CDK_JSON) -> dict[str, Any]:
    return dict(json.loads(path.read_text())["context"])


def load_chalice_config(path: Path = CHALICE_CONFIG) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def deployable_chalice_stages(chalice_config: dict[str, Any]) -> set[str]:
    return set(chalice_config.get("stages", {})) - LOCAL_ONLY_STAGES


def check_agreement(stage_names: Any, chalice_config: dict[str, Any]) -> None:
    """Every stage asked for is a deployable Chalice stage, with its own names and nothing the stack or the
    settings file provides."""
    chalice_stages = deployable_chalice_stages(chalice_config)
    unknown = sorted(set(stage_names) - chalice_stages)
    if unknown:
        raise StageError(
            f"stages {unknown} differ from the deployable Chalice stages {sorted(chalice_stages)} "
            f"(.chalice/config.json, less {sorted(LOCAL_ONLY_STAGES)})"
        )
    for name in sorted(chalice_stages):
        env = Config(chalice_stage=name, config_from_disk=chalice_config).environment_variables
        if env.get("BILLOW_STAGE") != name:
            raise StageError(f"Chalice stage {name!r} sets BILLOW_STAGE={env.get('BILLOW_STAGE')!r}")
        prefix = env.get("BILLOW_TABLE_PREFIX", "")
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,40}-", prefix) or name not in prefix:
            raise StageError(f"Chalice stage {name!r}: BILLOW_TABLE_PREFIX {prefix!r} must be like 'billow-{name}-'")
        clash = sorted(STACK_PROVIDED_ENV & set(env))
        if clash:
            raise StageError(f"Chalice stage {name!r} sets {clash}, which the CDK stack or the settings file provides")


def _issuer(raw: Any, stage: str) -> ExistingIssuer | None:
    if raw is None:
        return None
    try:
        audiences = raw["audience"]
        issuer = ExistingIssuer(
            issuer=str(raw["issuer"]),
            jwks_url=str(raw["jwksUrl"]),
            audiences=tuple([audiences] if isinstance(audiences, str) else audiences),
        )
    except (KeyError, TypeError) as exc:
        raise StageError(f"stage {stage!r}: jwtIssuer needs issuer, jwksUrl and audience ({exc})") from None
    if not issuer.issuer.startswith("https://") or not issuer.jwks_url.startswith("https://") or not issuer.audiences:
        raise StageError(f"stage {stage!r}: jwtIssuer's issuer and jwksUrl must be https URLs, audience non-empty")
    return issuer


def _console_origins(raw: Any, stage: str) -> tuple[str, ...]:
    """consoleOrigins: browser origins (scheme, host, port; no path), https — http only for a console on
    this machine (localhost, 127.0.0.1)."""
    origins = tuple(raw or ())
    bad = [o for o in origins if not isinstance(o, str) or not _ORIGIN.fullmatch(o)]
    if bad:
        raise StageError(
            f"stage {stage!r}: consoleOrigins {bad} are not origins (https://host[:port], no path or trailing "
            "slash; http only for localhost or 127.0.0.1)"
        )
    return origins


def settings_source(name: str, context: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The raw settings of a stage and where they came from: the context's in-memory settings, the one
    file named by billow:settingsFile, or <billow:settingsDir>/<stage>.json (infra/settings/ by default)."""
    given = (context.get(STAGES_KEY) or {}).get(name)
    if given is not None:
        return dict(given), f"context {STAGES_KEY}.{name}"
    if context.get(SETTINGS_FILE_KEY):
        path = Path(str(context[SETTINGS_FILE_KEY]))
    else:
        directory = Path(str(context.get(SETTINGS_DIR_KEY) or DEFAULT_SETTINGS_DIR))
        path = (directory if directory.is_absolute() else ROOT / "infra" / directory) / f"{name}.json"
    where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    try:
        return read_settings_file(path), where + ("" if path.is_file() else " (no such file)")
    except ValueError as exc:
        raise StageError(str(exc)) from None


def stage_settings(name: str, context: dict[str, Any], chalice_config: dict[str, Any]) -> StageSettings:
    deployable = sorted(deployable_chalice_stages(chalice_config))
    if name not in deployable:
        raise StageError(f"unknown stage {name!r}; deployable stages: {deployable}")
    check_agreement([name], chalice_config)
    raw, where = settings_source(name, context)
    problems = check(raw)
    if problems:
        lines = "\n".join(f"  {problem}" for problem in problems)
        raise StageError(f"stage {name!r}: {len(problems)} settings to fill in ({where}):\n{lines}")
    api = Config(chalice_stage=name, config_from_disk=chalice_config).scope(name, "api_handler")
    throttle = raw.get("apiThrottle") or {}
    email_from, email_domain = str(raw["emailFrom"]), raw.get("emailDomain") or None
    if email_domain and not email_from.endswith(f"@{email_domain}"):
        raise StageError(f"stage {name!r}: emailFrom {email_from!r} is not an address of emailDomain {email_domain!r}")
    hosting = hosting_of(raw)
    return StageSettings(
        name=name,
        table_prefix=api.environment_variables["BILLOW_TABLE_PREFIX"],
        api_gateway_stage=api.api_gateway_stage,
        email_from=email_from,
        email_domain=email_domain,
        email_identity_exists=bool(raw.get("emailIdentityExists", False)),
        alarm_email=raw.get("alarmEmail") or None,
        throttle_rate=int(throttle.get("rateLimit", 50)),
        throttle_burst=int(throttle.get("burstLimit", 100)),
        invoice_retention_days=int(raw.get("invoiceRetentionDays", 3653)),
        log_retention_days=int(raw.get("logRetentionDays", 365)),
        cognito_domain_prefix=raw.get("cognitoDomainPrefix") or None,
        console_origins=_console_origins([o.rstrip("/") for o in raw["consoleOrigins"]], name),
        existing_issuer=_issuer(raw.get("jwtIssuer"), name),
        console_hosting=ConsoleHosting(
            domain_name=hosting.get("domainName") or None,
            certificate_arn=hosting.get("certificateArn") or None,
            publishable_key=str(raw["stripePublishableKey"]),
        )
        if hosting is not None
        else None,
        settings_env=lambda_environment(raw),
        account=raw.get("account") or None,
        region=raw.get("region") or None,
        chalice_config=chalice_config,
    )
