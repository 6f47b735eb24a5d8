"""Stage settings for the CDK app: what .chalice/config.json says about a stage, plus what only the
deployment needs (infra/cdk.json's context, key "billow:stages").

The two sources never say the same thing twice: table, queue and log names come from the Chalice
stage's BILLOW_TABLE_PREFIX; the Lambda environment, memory and timeout from the Chalice stage (per
function, as `chalice deploy` would resolve them); only AWS-side choices (sender, alarms, throttling,
issuer) live in the CDK context. `check_agreement` refuses a context stage that Chalice does not know,
or a Chalice stage that sets what the stack provides (the issuer, the bucket, the secret).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalice.config import Config

ROOT = Path(__file__).resolve().parents[1]
CDK_JSON = ROOT / "infra" / "cdk.json"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
STAGES_KEY = "billow:stages"
PACKAGE_DIR_KEY = "billow:packageDir"
LOCAL_ONLY_STAGES = frozenset({"local"})  # the laptop stack (make run): never deployed

# Environment variables the stack sets from the resources it creates: a Chalice stage must not set them.
STACK_PROVIDED_ENV = frozenset(
    {
        "BILLOW_JWT_ISSUER",
        "BILLOW_JWKS_URL",
        "BILLOW_JWT_AUDIENCE",
        "BILLOW_INVOICE_BUCKET",
        "BILLOW_EMAIL_FROM",
        "BILLOW_SECRETS_ARN",
        "BILLOW_CURSOR_SECRET",
        "BILLOW_TRACING",
        "BILLOW_SES_CONFIGURATION_SET",
    }
)


class StageError(ValueError):
    """The stage settings are missing, contradictory or unsafe."""


@dataclass(frozen=True)
class ExistingIssuer:
    """A JWT issuer billow trusts instead of creating a Cognito user pool."""

    issuer: str
    jwks_url: str
    audiences: tuple[str, ...]


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
    console_callback_urls: tuple[str, ...]
    console_logout_urls: tuple[str, ...]
    existing_issuer: ExistingIssuer | None
    account: str | None = None
    region: str | None = None
    chalice_config: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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


def check_agreement(context_stages: dict[str, Any], chalice_config: dict[str, Any]) -> None:
    """The CDK context and .chalice/config.json describe the same deployable stages, consistently."""
    chalice_stages = deployable_chalice_stages(chalice_config)
    if set(context_stages) != chalice_stages:
        raise StageError(
            f"CDK context stages {sorted(context_stages)} differ from the deployable Chalice stages "
            f"{sorted(chalice_stages)} (.chalice/config.json, less {sorted(LOCAL_ONLY_STAGES)})"
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
            raise StageError(f"Chalice stage {name!r} sets {clash}, which the CDK stack provides")


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


def stage_settings(name: str, context: dict[str, Any], chalice_config: dict[str, Any]) -> StageSettings:
    stages = context.get(STAGES_KEY) or {}
    check_agreement(stages, chalice_config)
    if name not in stages:
        raise StageError(f"unknown stage {name!r}; deployable stages: {sorted(stages)}")
    raw = stages[name]
    api = Config(chalice_stage=name, config_from_disk=chalice_config).scope(name, "api_handler")
    throttle = raw.get("apiThrottle") or {}
    email_from, email_domain = str(raw["emailFrom"]), raw.get("emailDomain") or None
    if email_domain and not email_from.endswith(f"@{email_domain}"):
        raise StageError(f"stage {name!r}: emailFrom {email_from!r} is not an address of emailDomain {email_domain!r}")
    retention = int(raw.get("logRetentionDays", 365))
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
        log_retention_days=retention,
        cognito_domain_prefix=raw.get("cognitoDomainPrefix") or None,
        console_callback_urls=tuple(raw.get("consoleCallbackUrls") or ()),
        console_logout_urls=tuple(raw.get("consoleLogoutUrls") or ()),
        existing_issuer=_issuer(raw.get("jwtIssuer"), name),
        account=raw.get("account") or None,
        region=raw.get("region") or None,
        chalice_config=chalice_config,
    )
