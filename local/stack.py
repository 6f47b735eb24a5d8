"""The pieces of the local stack that the launcher (local/run.py), the `billow` CLI and the tests share:
where local state lives, ports, the JWT signing key, the fake-AWS environment, the AWS resources,
a small API client, demo seeding and the stack file (.local/stack.json).

Local state lives in `.local/` at the repo root (gitignored), or in $BILLOW_LOCAL_DIR:
  jwt-private.pem   the local issuer's RS256 key, generated once and kept
  stack.json        what the running stack prints (URLs, demo ids, tokens); removed when it stops
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from local import tokens

REPO_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STAGE = "local"

DEFAULT_PORTS = {"moto": 5000, "api": 8000, "jwks": 8421, "stripe": 8420, "console": 3000, "receiver": 8422}
PORT_ENV = {
    "moto": "BILLOW_MOTO_PORT",
    "api": "BILLOW_API_PORT",
    "jwks": "BILLOW_JWKS_PORT",
    "stripe": "BILLOW_STRIPE_PORT",
    "console": "BILLOW_CONSOLE_PORT",
    "receiver": "BILLOW_RECEIVER_PORT",  # the local webhook receiver (local/webhook_receiver.py)
}

READ_WRITE = ["billing:read", "billing:write"]
ADMIN_SCOPES = ["billing:admin", "billing:read", "billing:write"]
TOKEN_TTL = 12 * 3600

CUSTOMER_SUB = "demo-customer"
OPERATOR_SUB = "demo-operator"
OUTSIDER_SUB = "demo-outsider"


class StackError(RuntimeError):
    """Something the user can fix (a port in use, the stack not running); the message says how."""


# --- where things live -------------------------------------------------------------------------


def local_dir() -> Path:
    return Path(os.environ.get("BILLOW_LOCAL_DIR") or REPO_DIR / ".local")


def key_path() -> Path:
    return local_dir() / "jwt-private.pem"


def stack_file() -> Path:
    return local_dir() / "stack.json"


@dataclass(frozen=True)
class Ports:
    moto: int
    api: int
    jwks: int
    stripe: int
    console: int = DEFAULT_PORTS["console"]  # taken: the console server tries the next ports
    receiver: int = DEFAULT_PORTS["receiver"]

    @classmethod
    def from_env(cls) -> Ports:
        values = {}
        for name, default in DEFAULT_PORTS.items():
            raw = os.environ.get(PORT_ENV[name], "").strip()
            try:
                values[name] = int(raw) if raw else default
            except ValueError:
                raise StackError(f"{PORT_ENV[name]}={raw!r} is not a port number") from None
            if not 0 < values[name] < 65536:
                raise StackError(f"{PORT_ENV[name]}={raw} is not a port number (1..65535)")
        return cls(**values)


# --- the signing key ---------------------------------------------------------------------------


def load_or_create_key(path: Path | None = None) -> rsa.RSAPrivateKey:
    """The local issuer's key: read from `path`, or generated and written there (mode 600) once."""
    path = path or key_path()
    if path.exists():
        return tokens.load_private_key(path)
    key = tokens.generate_private_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(tokens.private_pem(key))
    tmp.replace(path)
    return key


def load_key() -> rsa.RSAPrivateKey:
    """The existing key, or StackError saying how to get one."""
    path = key_path()
    if not path.exists():
        raise StackError(f"no local signing key at {path}: start the local stack once with `make run` (it creates it)")
    return tokens.load_private_key(path)


# --- fake AWS ----------------------------------------------------------------------------------


def aws_env(moto_url: str, local: Path | None = None) -> dict[str, str]:
    """Environment that points every AWS SDK call (boto3, PynamoDB) at moto, with fake credentials."""
    local = local or local_dir()
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_url,
        # no profile, config or credentials file of the user's can redirect or sign anything
        "AWS_CONFIG_FILE": str(local / "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(local / "aws-credentials-none"),
    }


def apply_aws_env(moto_url: str) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
        del os.environ[name]  # a service-specific endpoint would win over AWS_ENDPOINT_URL
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        os.environ.pop(name, None)
    os.environ.update(aws_env(moto_url))


def create_aws_resources(moto_url: str) -> dict[str, Any]:
    """Every table, queue (+ DLQ), the invoice bucket, the verified SES sender and the event bus (with its
    tap queue), in moto at `moto_url`.

    Names come from functions/core (tables.py, resources.py) and the current settings, so call this
    after the stage's environment is applied.
    """
    import boto3

    from functions.core.db import create_tables
    from functions.core.resources import QUEUES, bucket_name, dlq_name, email_sender, queue_name, webhook_key
    from functions.core.tables import TABLES, table_name

    fake = aws_env(moto_url)
    session = boto3.session.Session(
        aws_access_key_id=fake["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=fake["AWS_SECRET_ACCESS_KEY"],
        region_name=fake["AWS_DEFAULT_REGION"],
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=moto_url)

    create_tables(client("dynamodb"))

    sqs = client("sqs")
    queues: dict[str, dict[str, str]] = {}
    for name, spec in QUEUES.items():
        dlq_url = sqs.create_queue(QueueName=dlq_name(name), Attributes={"MessageRetentionPeriod": "1209600"})[
            "QueueUrl"
        ]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receive_count)}
        url = sqs.create_queue(
            QueueName=queue_name(name),
            Attributes={
                "VisibilityTimeout": str(6 * spec.consumer_timeout_seconds),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        queues[name] = {"url": url, "dlq_url": dlq_url}

    bucket = bucket_name()
    client("s3").create_bucket(Bucket=bucket)

    sender = email_sender()
    client("ses").verify_email_identity(EmailAddress=sender)

    from local.event_bus import create_event_bus

    # the KMS key that encrypts webhook endpoint secrets (functions/events/webhook_secrets.py)
    kms = client("kms")
    key_alias = webhook_key()
    if key_alias not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}:
        key_id = kms.create_key(Description="billow webhook endpoint secrets (local)")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=key_alias, TargetKeyId=key_id)

    return {
        "tables": [table_name(name) for name in TABLES],
        "queues": queues,
        "bucket": bucket,
        "email_sender": sender,
        # outbound events (DESIGN §7): the bus, and the tap queue a rule copies every billow event to
        "event_bus": create_event_bus(client("events"), sqs),
        "webhook_key": key_alias,
    }


# --- the Stripe side ---------------------------------------------------------------------------

# localstripe accepts any key of the right shape; these name themselves as local test keys.
STRIPE_SECRET_KEY = "sk_test_billow_local"  # noqa: S105 - a fake key for localstripe
STRIPE_PUBLISHABLE_KEY = "pk_test_billow_local"
# The events billow's webhook handles (DESIGN §2 Webhooks); localstripe sends only these to it.
WEBHOOK_EVENTS = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.closed",
]


def stripe_env(stripe_url: str, webhook_secret: str) -> dict[str, str]:
    """What points billow's Stripe gateway at the local Stripe side (functions/core/secrets.py falls
    back to these variables when no Secrets Manager secret is configured)."""
    return {
        "BILLOW_STRIPE_API_BASE": stripe_url,
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": STRIPE_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
    }


def register_webhook(stripe_url: str, api_url: str, secret: str) -> str:
    """Register billow's webhook endpoint with localstripe (its /_config/webhooks API): events are
    then POSTed to the API signed with `secret`, as Stripe signs them. Returns the endpoint URL."""
    endpoint = f"{api_url}/v1/webhooks/stripe"
    response = requests.post(
        f"{stripe_url}/_config/webhooks/billow",
        data=[("url", endpoint), ("secret", secret), *(("events[]", e) for e in WEBHOOK_EVENTS)],
        timeout=10,
    )
    if response.status_code != 200:
        raise StackError(f"registering the webhook with the Stripe side failed: HTTP {response.status_code}")
    return endpoint


# --- HTTP ----------------------------------------------------------------------------------------


def register_receiver(admin: ApiClient, receiver_url: str) -> dict[str, Any]:
    """The local webhook receiver registered as an endpoint for every event type; the answer carries its
    secret (shown this once), which the receiver verifies signatures with."""
    body = {"url": receiver_url, "event_types": ["*"], "description": "the local receiver (make run)"}
    return admin.post("/v1/webhook-endpoints", body, {"Idempotency-Key": f"local-receiver-{receiver_url}"})


def wait_for(url: str, timeout: float = 30.0, expect: int = 200) -> None:
    """Poll `url` until it answers `expect`; StackError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == expect:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise StackError(f"{url} was not ready after {timeout:.0f}s ({last})")


class ApiError(StackError):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        detail = body.get("detail") if isinstance(body, dict) else body
        code = body.get("code") if isinstance(body, dict) else None
        super().__init__(f"{method} {path} answered {status}{f' {code}' if code else ''}: {detail}")


class ApiClient:
    """JSON over HTTP to the billow API with one bearer token."""

    def __init__(self, base_url: str, token: str | None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        h = {"Accept": "application/json", **(headers or {})}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            h["Content-Type"] = "application/json"
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                data=json.dumps(body) if body is not None else None,
                headers=h,
                timeout=self.timeout,
            )
        except requests.ConnectionError:
            raise StackError(
                f"nothing answers at {self.base_url}: is the local stack running? Start it with `make run`"
            ) from None
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = response.text
        if response.status_code >= 400:
            raise ApiError(method, path, response.status_code, data)
        return data

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, body, headers)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def grant(self, account_id: str, sub: str, role: str = "owner") -> dict[str, Any]:
        return self.post(f"/v1/accounts/{account_id}/members", {"sub": sub, "role": role})


# --- demo data -----------------------------------------------------------------------------------

DEMO_CONTACT = {
    "name": "Grace Hopper",
    "email": "billing@demo-robotics.example",
    "address": {"line1": "1 Harbour Way", "city": "Boston", "state": "MA", "postal_code": "02110", "country": "US"},
}
LITE_CONTACT = {
    "name": "Alan Turing",
    "email": "alan@lite.example",
    "address": {"line1": "2 Bletchley Park", "city": "Milton Keynes", "postal_code": "MK3 6EB", "country": "GB"},
}
DEMO_DEVICES = [("edge-gateway-01", "gateway"), ("arm-controller-07", "controller"), ("lidar-unit-3", "sensor")]


@dataclass
class DemoData:
    demo_account: str = ""
    lite_account: str = ""
    devices: list[str] = field(default_factory=list)
    members: list[dict[str, str]] = field(default_factory=list)


def seed_demo(admin: ApiClient, customer_sub: str = CUSTOMER_SUB) -> DemoData:
    """Demo data, through the API with an operator token: a linked payg account in usd with devices,
    a lite account, and `customer_sub` as owner of both. moto is in-memory, so every start seeds."""
    demo = DemoData()
    payg = admin.post(
        "/v1/accounts",
        {"type": "payg", "linked": True, "currency": "usd", "locale": "en", "name": "Demo Robotics"}
        | {"billing_contact": DEMO_CONTACT},
    )
    demo.demo_account = payg["id"]
    for name, kind in DEMO_DEVICES:
        demo.devices.append(admin.post(f"/v1/accounts/{demo.demo_account}/devices", {"name": name, "kind": kind})["id"])
    lite = admin.post(
        "/v1/accounts",
        {"type": "lite", "linked": False, "currency": "usd", "locale": "en", "name": "Lite Lab"}
        | {"billing_contact": LITE_CONTACT},
    )
    demo.lite_account = lite["id"]
    for account_id in (demo.demo_account, demo.lite_account):
        member = admin.grant(account_id, customer_sub, "owner")
        demo.members.append({"account_id": account_id, "sub": member["sub"], "role": member["role"]})
    seed_rates(admin)
    seed_billing_items_and_invoices(admin, demo)
    return demo


# The demo rate card (issue 17): compute with a monthly allowance, graduated object storage, bandwidth by
# volume, and a flat CDN price. Usd, from before any account (only a first version may start in the past).
DEMO_RATES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "compute",
        "vcpu-hours",
        {"unit_amount_decimal": "4.5", "included_quantity": 100, "description": "Compute (vCPU hours)"},
    ),
    (
        "object-storage",
        "gb-month",
        {
            "included_quantity": 50,
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": 1000, "unit_amount_decimal": "2.3"},
                {"up_to": 10000, "unit_amount_decimal": "1.8", "flat_amount": 500},
                {"up_to": None, "unit_amount_decimal": "1.2"},
            ],
            "description": "Object storage (GB-month)",
        },
    ),
    (
        "bandwidth",
        "egress-gb",
        {
            "tiers_mode": "volume",
            "tiers": [
                {"up_to": 1000, "unit_amount_decimal": "9"},
                {"up_to": None, "unit_amount_decimal": "7"},
            ],
            "description": "Bandwidth (GB out)",
        },
    ),
    ("cdn", "gb", {"unit_amount_decimal": "1.5"}),  # the line reads "cdn · gb" (no description)
]


def seed_rates(admin: ApiClient) -> None:
    for service, metric, body in DEMO_RATES:
        admin.put(f"/v1/rates/{service}/{metric}", {"currency": "usd", "effective_from": "2020-01-01", **body})


def seed_usage_and_budget(admin: ApiClient, meter: ApiClient, demo: DemoData, now: str) -> None:
    """The demo account's usage so far and a budget it has passed 80 % of (one alert e-mail per threshold).
    The account's first billing period starts the day it is created, so its usage is dated `now`."""
    records = []
    for n, device in enumerate(demo.devices):
        records.append(_usage(demo, f"demo-cpu-{n}", "compute", "vcpu-hours", 60 + 25 * n, now, device))
        records.append(_usage(demo, f"demo-egress-{n}", "bandwidth", "egress-gb", 200 + 150 * n, now, device))
    records.append(_usage(demo, "demo-storage", "object-storage", "gb-month", 1450, now, None))
    meter.post("/v1/usage", {"records": records})
    admin.put(f"/v1/accounts/{demo.demo_account}/budget", {"amount": 70_000, "thresholds": [50, 80, 100]})


def _usage(demo: DemoData, rid: str, service: str, metric: str, quantity: int, at: str, device: str | None) -> dict:
    record = {"id": rid, "account_id": demo.demo_account, "service": service, "metric": metric}
    return record | {"quantity": quantity, "occurred_at": at} | ({"device_id": device} if device else {})


DEMO_CARD_CONTACT = DEMO_CONTACT | {"email": "cards@demo-robotics.example"}


def seed_card_on_file(
    customer: ApiClient, account_id: str, stripe_url: str, contact: dict[str, Any], timeout: float = 20.0
) -> dict[str, Any]:
    """A card on file through the real flow, as the console would do it: a SetupIntent from the API,
    confirmed at the Stripe side with the 4242 test card as Stripe.js would, submitted with PUT; the
    queue pump then validates it. Returns the card once GET payment-method shows it active."""
    from local import stripe_js

    base = f"/v1/accounts/{account_id}/payment-method"
    started = customer.post(f"{base}/setup", None)
    stripe_js.confirm_card_setup(stripe_url, started["publishable_key"], started["client_secret"])
    customer.put(base, {"setup_intent_id": started["setup_intent_id"], "billing_contact": contact})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        card = customer.get(base)["card"]
        if card is not None and card["status"] == "active":
            return card
        time.sleep(0.1)
    raise StackError(f"the demo card was not validated within {timeout:.0f}s: is the queue pump running?")


def seed_billing_items_and_invoices(admin: ApiClient, demo: DemoData) -> None:
    """The demo account's invoices, through the API: two One-time charges and a Credit that settles the
    older one (billing items linked to its devices join here with the billing-items capability)."""
    base = f"/v1/accounts/{demo.demo_account}"
    seeds = [
        ("charges", {"description": "Onboarding and migration assistance", "amount": 15000}),
        ("charges", {"description": "Overage: 120 GB egress", "amount": 1080}),
        ("credits", {"amount": 5000, "reason": "Service credit: October incident"}),
    ]
    for n, (route, body) in enumerate(seeds, 1):
        admin.post(f"{base}/{route}", body, headers={"Idempotency-Key": f"demo-seed-{n}"})


DEMO_ITEMS = [
    # (description, category, monthly fee in cents, setup fee, index of the device or None)
    ("Bare metal server, 16 cores / 128 GB", "server", 42_000, 15_000, 0),
    ("Block storage 2 TB", "storage", 9_000, 0, 0),
    ("Load balancer", "network", 2_500, 0, 1),
    ("Backup vault 500 GB", "storage", 1_500, 0, None),
    ("Monitoring add-on", "software", 900, 0, None),
]


def seed_billing_items(admin: ApiClient, demo: DemoData) -> list[str]:
    """Billing items on the demo account (after its card: payg accounts need one), three linked to
    devices and two dissociated; each posts its New invoice."""
    base = f"/v1/accounts/{demo.demo_account}"
    ids = []
    for n, (description, category, fee, setup, device) in enumerate(DEMO_ITEMS, 1):
        body: dict[str, Any] = {
            "description": description,
            "category": category,
            "recurring_fee": fee,
            "setup_fee": setup,
        }
        if device is not None and device < len(demo.devices):
            body["device_id"] = demo.devices[device]
        out = admin.post(f"{base}/billing-items", body, headers={"Idempotency-Key": f"demo-item-{n}"})
        ids.append(out["item"]["id"])
    return ids


# --- the stack file ------------------------------------------------------------------------------


def write_stack_info(info: dict[str, Any], path: Path | None = None) -> Path:
    path = path or stack_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds tokens
    with os.fdopen(fd, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    tmp.replace(path)
    return path


def read_stack_info(path: Path | None = None) -> dict[str, Any] | None:
    path = path or stack_file()
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def remove_stack_info(pid: int, path: Path | None = None) -> None:
    """Remove the stack file if it is this process's (a newer stack may have replaced it)."""
    path = path or stack_file()
    info = read_stack_info(path)
    if info is not None and info.get("pid") == pid:
        path.unlink(missing_ok=True)


def stage_table_prefix(stage: str = STAGE) -> str:
    """The table prefix .chalice/config.json gives the stage (what the running API uses)."""
    config = json.loads((REPO_DIR / ".chalice" / "config.json").read_text())
    return str(config["stages"][stage]["environment_variables"]["BILLOW_TABLE_PREFIX"])


def api_url() -> str:
    """The running API's URL: $BILLOW_API_URL, else the stack file's, else StackError."""
    if os.environ.get("BILLOW_API_URL"):
        return os.environ["BILLOW_API_URL"].rstrip("/")
    info = read_stack_info()
    if info is None or not info.get("api_url"):
        raise StackError(f"the local stack is not running (no {stack_file()}): start it with `make run`")
    return str(info["api_url"])
