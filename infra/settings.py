"""Every setting a deployed stage needs, declared once: what it is, an example, where it is used, the
local stage's default (the only stage that has defaults) and the Lambda environment variable it becomes.

A deployed stage (dev, prod) reads its values from a settings file, `infra/settings/<stage>.json` by
default (another directory with `--settings-dir DIR` / context `billow:settingsDir`, one file for one
stage with `--settings FILE`); `infra/settings.example.json` shows every key. `check` lists, one line
each, every value that is missing, empty or a placeholder: the local stage's defaults (the
"Billow Cloud SAS, 12 rue de la Paix" seller, `@billow.example` addresses, the
`https://console.billow.example` console, localhost origins), `<…>` markers and plain-http origins.
docs/deploy.md's table of settings is checked against SETTINGS (tests/infra/test_settings.py), and the
local defaults against functions/core/settings.py's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCAL_CONSOLE_ORIGINS = ("http://127.0.0.1:3000", "http://localhost:3000")
# Text that only ever belongs to the local stage or to a template: never deployed.
PLACEHOLDER_MARKS = ("billow.example", "localhost", "127.0.0.1", "Billow Cloud SAS", "12 rue de la Paix", "FR 00 1")
EMAIL = re.compile(r"[^@\s<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
HTTPS_ORIGIN = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:.+")


@dataclass(frozen=True)
class Setting:
    key: str  # the key in the settings file
    what: str
    example: Any
    used: str  # where the value ends up
    local: Any = None  # the local stage's value (None: no local counterpart)
    required: bool = True  # a deployed stage must give it
    kind: str = "text"  # text | lines | email | origins | int | bool | object | arn | publishable-key
    env: str | None = None  # the Lambda environment variable it becomes


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "sellerName",
        "the seller's legal name, printed on every invoice",
        "Nimbus Hosting SAS",
        "invoice PDFs (functions/invoices/documents.py)",
        local="Billow Cloud SAS",
        env="BILLOW_SELLER_NAME",
    ),
    Setting(
        "sellerAddress",
        "the seller's postal address, one line per entry",
        ["4 quai des Chartrons", "33000 Bordeaux", "France"],
        "invoice PDFs",
        local=["12 rue de la Paix", "75002 Paris", "France"],
        kind="lines",
        env="BILLOW_SELLER_ADDRESS",
    ),
    Setting(
        "sellerEmail",
        "the seller's billing contact printed on invoices",
        "billing@nimbus-hosting.fr",
        "invoice PDFs",
        local="billing@billow.example",
        kind="email",
        env="BILLOW_SELLER_EMAIL",
    ),
    Setting(
        "sellerTaxId",
        "the seller's VAT / tax identifier",
        "FR 32 123456789",
        "invoice PDFs",
        local="FR 00 123456789",
        env="BILLOW_SELLER_TAX_ID",
    ),
    Setting(
        "emailFrom",
        "the sender of every e-mail (an address of emailDomain when that is set)",
        "billing@nimbus-hosting.fr",
        "every e-mail; the SES identity (infra/data.py)",
        local="billing@billow.example",
        kind="email",
        env="BILLOW_EMAIL_FROM",
    ),
    Setting(
        "supportEmail",
        "where support tickets are sent",
        "support@nimbus-hosting.fr",
        "support tickets (functions/payments/tickets.py)",
        local="support@billow.example",
        kind="email",
        env="BILLOW_SUPPORT_EMAIL",
    ),
    Setting(
        "operatorEmail",
        "where operators hear of disputes, held payments, credit left at closure",
        "billing-ops@nimbus-hosting.fr",
        "operator e-mails (functions/payments/webhooks.py, charging.py, closure.py)",
        local="billing-ops@billow.example",
        kind="email",
        env="BILLOW_OPERATOR_EMAIL",
    ),
    Setting(
        "alarmEmail",
        "subscribed to the stage's alarm topic",
        "oncall@nimbus-hosting.fr",
        "SNS topic billow-<stage>-alarms (infra/monitoring.py)",
        kind="email",
    ),
    Setting(
        "consoleOrigins",
        "the billing console's https origins; the first is the one e-mails link to",
        ["https://billing.nimbus-hosting.fr"],
        "CORS (BILLOW_CORS_ORIGINS), PayPal return origins (BILLOW_PAYPAL_RETURN_ORIGINS), e-mail links "
        "(BILLOW_CONSOLE_URL), Cognito callback and logout URLs (<origin>/), the hosted console's config.json",
        local=list(LOCAL_CONSOLE_ORIGINS),
        kind="origins",
    ),
    Setting(
        "consoleHosting",
        "host the console here, on S3 + CloudFront: true (CloudFront's own domain), or {domainName, "
        "certificateArn} (a custom domain, its ACM certificate in us-east-1); false / null: hosted elsewhere",
        {
            "domainName": "billing.nimbus-hosting.fr",
            "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/…",
        },
        "infra/console.py",
        required=False,
        kind="object",
    ),
    Setting(
        "stripePublishableKey",
        "Stripe's publishable key (public), required with consoleHosting",
        "pk_live_51H…",
        "the hosted console's config.json",
        required=False,
        kind="publishable-key",
    ),
    Setting(
        "account",
        "pin the stack to this AWS account (null: the CLI's profile)",
        "123456789012",
        "the stack's env",
        required=False,
    ),
    Setting(
        "region",
        "pin the stack to this region (null: the CLI's profile)",
        "eu-west-3",
        "the stack's env",
        required=False,
    ),
    Setting(
        "emailDomain",
        "verify this domain (Easy DKIM) instead of the single emailFrom address",
        "nimbus-hosting.fr",
        "SES identity; DkimCname outputs",
        required=False,
    ),
    Setting(
        "emailIdentityExists",
        "the SES identity is already verified: only grant it",
        False,
        "infra/data.py",
        required=False,
        kind="bool",
    ),
    Setting(
        "apiThrottle",
        "API stage throttling, requests per second (default 50 / 100)",
        {"rateLimit": 200, "burstLimit": 400},
        "API Gateway stage",
        required=False,
        kind="object",
    ),
    Setting(
        "invoiceRetentionDays",
        "invoice PDFs expire after this (default 3653)",
        3653,
        "invoice bucket lifecycle",
        required=False,
        kind="int",
    ),
    Setting(
        "logRetentionDays",
        "CloudWatch Logs retention (default 365)",
        365,
        "every log group",
        required=False,
        kind="int",
    ),
    Setting(
        "cognitoDomainPrefix",
        "hosted UI domain prefix (default billow-<stage>-<account id>)",
        "nimbus-billing",
        "Cognito domain; the console's CSP and config.json",
        required=False,
    ),
    Setting(
        "jwtIssuer",
        "an existing issuer instead of Cognito: {issuer, jwksUrl, audience}",
        {
            "issuer": "https://login.nimbus-hosting.fr/realms/billing",
            "jwksUrl": "https://…/certs",
            "audience": ["billow"],
        },
        "BILLOW_JWT_ISSUER, BILLOW_JWKS_URL, BILLOW_JWT_AUDIENCE",
        required=False,
        kind="object",
    ),
)
BY_KEY = {setting.key: setting for setting in SETTINGS}
# Environment variables that the settings (or values derived from them) give every function.
SETTINGS_ENV = frozenset(
    {s.env for s in SETTINGS if s.env} | {"BILLOW_CORS_ORIGINS", "BILLOW_PAYPAL_RETURN_ORIGINS", "BILLOW_CONSOLE_URL"}
)


def _placeholder(text: str, local: Any) -> str | None:
    if not text.strip():
        return "empty"
    if "<" in text or ">" in text or "…" in text:
        return f"a template marker ({text!r})"
    locals_ = [str(v) for v in (local if isinstance(local, list) else [local]) if v]
    if text in locals_:
        return f"the local stage's default ({text!r})"
    for mark in PLACEHOLDER_MARKS:
        if mark.lower() in text.lower():
            return f"a placeholder ({text!r} contains {mark!r})"
    return None


def _check_text(setting: Setting, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"must be a string, not {type(value).__name__}"]
    why = _placeholder(value, setting.local)
    if why:
        return [why]
    if setting.kind == "email" and not EMAIL.fullmatch(value):
        return [f"{value!r} is not an e-mail address"]
    if setting.kind == "publishable-key" and not re.fullmatch(r"pk_(live|test)_[A-Za-z0-9]{8,}", value):
        return [f"{value!r} is not a Stripe publishable key (pk_live_… or pk_test_…)"]
    return []


def _check_list(setting: Setting, value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        return ["must be a non-empty list"]
    problems = []
    item_setting = setting if setting.kind == "origins" else Setting(setting.key, "", "", "", kind="text")
    for item in value:
        found = _check_text(item_setting, item)
        if not found and setting.kind == "origins" and not HTTPS_ORIGIN.fullmatch(item):
            found = [f"{item!r} is not an https origin (scheme and host, no path or trailing slash)"]
        problems += found
    if setting.kind == "lines" and value == setting.local:
        problems = [f"the local stage's default ({value!r})"]
    return problems[:1]


def hosting_of(raw: dict[str, Any]) -> dict[str, Any] | None:
    """consoleHosting as an object: None (false/null: not hosted here), {} (true: CloudFront's own domain)."""
    value = raw.get("consoleHosting")
    if value is None or value is False:
        return None
    return {} if value is True else value


def _check_hosting(value: Any) -> list[str]:
    if value is True:
        return []
    if not isinstance(value, dict) or set(value) - {"domainName", "certificateArn"}:
        return ["must be false, true or {domainName, certificateArn} (a custom domain and its certificate)"]
    domain, arn = value.get("domainName"), value.get("certificateArn")
    if bool(domain) != bool(arn):
        return ["domainName and certificateArn go together"]
    if arn and (not ARN.fullmatch(str(arn)) or ":us-east-1:" not in str(arn)):
        return [f"certificateArn {arn!r} is not an ACM certificate ARN in us-east-1 (CloudFront's region)"]
    if domain and _placeholder(str(domain), None):
        return [f"domainName: {_placeholder(str(domain), None)}"]
    return []


CHECKS: dict[str, Callable[[Setting, Any], list[str]]] = {
    "text": _check_text,
    "email": _check_text,
    "publishable-key": _check_text,
    "lines": _check_list,
    "origins": _check_list,
}


def _hint(setting: Setting) -> str:
    return f"{setting.what} (e.g. {json.dumps(setting.example, ensure_ascii=False)})"


def check(raw: dict[str, Any]) -> list[str]:
    """One line per setting that is missing, a placeholder or malformed, plus unknown keys; [] = deployable."""
    lines = [f"{key}: unknown setting (known: see docs/deploy.md)" for key in sorted(set(raw) - set(BY_KEY))]
    for setting in SETTINGS:
        value = raw.get(setting.key)
        if value is None:
            if setting.required:
                lines.append(f"{setting.key}: missing — {_hint(setting)}")
            continue
        if setting.key == "consoleHosting":
            problems = [] if value is False else _check_hosting(value)
        elif setting.kind in ("int", "bool", "object"):
            problems = []  # their shape is checked where they are used (stages.py)
        else:
            problems = CHECKS[setting.kind](setting, value)
        lines += [f"{setting.key}: {problem} — {_hint(setting)}" for problem in problems]
    hosting = hosting_of(raw) if isinstance(raw.get("consoleHosting"), dict | bool) else None
    if hosting is not None and not raw.get("stripePublishableKey"):
        lines.append(f"stripePublishableKey: missing (consoleHosting is set) — {_hint(BY_KEY['stripePublishableKey'])}")
    domain = (hosting or {}).get("domainName")
    flagged = {line.split(":")[0] for line in lines}
    if domain and "consoleOrigins" not in flagged and f"https://{domain}" not in (raw.get("consoleOrigins") or []):
        lines.append(f"consoleOrigins: must include https://{domain}, the hosted console's origin")
    return lines


def read_settings_file(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: must hold a JSON object of settings")
    return {k: v for k, v in raw.items() if not k.startswith("$")}  # "$comment" keys are notes


def lambda_environment(raw: dict[str, Any]) -> dict[str, str]:
    """What the settings put in every function's environment."""
    origins = [o.rstrip("/") for o in raw["consoleOrigins"]]
    env = {
        "BILLOW_CORS_ORIGINS": ",".join(origins),
        "BILLOW_PAYPAL_RETURN_ORIGINS": ",".join(origins),
        "BILLOW_CONSOLE_URL": origins[0],
    }
    for setting in SETTINGS:
        if setting.env:
            value = raw[setting.key]
            env[setting.env] = "|".join(value) if isinstance(value, list) else str(value)
    return env
