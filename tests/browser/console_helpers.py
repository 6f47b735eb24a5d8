"""What the console's page tests share: the API as the customer sees it (to compare the pages with), the
signed-in page several tests reuse, the card Element, axe-core, money as the console shows it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import requests
from axe_playwright_python.sync_playwright import Axe

from tests.browser.harness import ConsoleSite, PageWatch

# The card Element's own frame is Stripe's (deployed, an iframe; locally localstripe's plain inputs):
# axe is run on everything else (DESIGN §8).
CARD_ELEMENT = "#card-element"
SERIOUS = {"serious", "critical"}


@dataclass
class Customer:
    """A user's view of the API: the same token and account the page signed in with."""

    site: ConsoleSite
    token: str
    account: str

    @classmethod
    def of(cls, site: ConsoleSite, who: str = "customer") -> Customer:
        user = site.user(who)
        return cls(site, user["token"], user["account"])

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        response = requests.request(
            method,
            f"{self.site.config['apiUrl']}/v1/accounts/{self.account}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}", **headers},
            timeout=30,
        )
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def balance(self) -> int:
        return self.get("/summary")["balance"]["current"]

    def payments(self) -> list[dict[str, Any]]:
        return self.get("/payments?limit=100")["data"]

    def items(self, view: str = "all") -> list[dict[str, Any]]:
        return self.get(f"/billing-items?view={view}&limit=100")["data"]

    def devices(self) -> list[dict[str, Any]]:
        return self.get("/devices?limit=100")["data"]


@dataclass
class SignedIn:
    """One signed-in page shared by the tests that do not interfere (one browser context per module)."""

    page: Any
    watch: PageWatch
    customer: Customer

    def open(self, route: str, ready: str) -> Any:
        """Go to `#/route`, drawn afresh (the page's main area is emptied first, so `ready` is the new
        page's, even when the same page was shown), and wait for the selector `ready`."""
        url = f"{self.customer.site.url}/#/{route}"
        self.page.evaluate(
            """(hash) => {
                document.getElementById("main").replaceChildren();
                if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
                else location.hash = hash;
            }""",
            f"#/{route}",
        )
        assert self.page.url == url
        self.page.wait_for_selector(ready)
        return self.page


def usd(minor: int) -> str:
    """An amount as the console shows it in English (en-US): $1,234.56, -$5.00."""
    sign = "-" if minor < 0 else ""
    return f"{sign}${abs(minor) / 100:,.2f}"


def fill_card(page: Any, number: str, exp: str = "12/34", cvc: str = "123", postal: str = "02110") -> None:
    """Type a test card into the card Element (locally localstripe's inputs; with real Stripe, its iframe)."""
    card = page.locator(CARD_ELEMENT)
    month, year = exp.split("/")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill(month)
    card.locator("input[placeholder=exp_year]").fill(year)
    card.locator("input[placeholder=cvc]").fill(cvc)
    card.locator("input[placeholder=postal_code]").fill(postal)


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, the card Element's frame aside."""
    results = Axe().run(page, context={"exclude": [[CARD_ELEMENT]]})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]


def wait_until(check, timeout: float = 15.0, every: float = 0.2) -> Any:
    """Poll `check()` until it returns something truthy (the queue pump and webhooks work in the background)."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(every)
        value = check()
    return value


def digits(text: str) -> int:
    """The minor units a formatted amount shows ("1 234,56 $US" → 123456)."""
    return int(re.sub(r"\D", "", text))


# --- an account of the tests' own ------------------------------------------------------------------

TEST_CONTACT = {
    "name": "Ada Lovelace",
    "email": "billing@console-tests.example",
    "address": {"line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"},
}


def paying_account(site: ConsoleSite) -> Customer:
    """A subscription account that pays by invoice (send_invoice), owned by the demo customer, with a card
    on file, devices, billing items, One-time charges and usage — the payment tests' own balance.

    The demo account is payg: automatic collection charges its whole balance to the card about a minute
    after the seeded invoices (DESIGN §3 v4 Collection), so a test paying part of it would race the
    collector. An account paying by invoice is never charged by billow on its own."""
    from local import stack as local_stack
    from local import tokens

    api = site.config["apiUrl"]
    customer_user = site.user("customer")
    operator = local_stack.ApiClient(api, site.user("operator")["token"])
    account = operator.post(
        "/v1/accounts",
        {"type": "subscription", "linked": True, "currency": "usd", "locale": "en", "name": "Console Tests Ltd"}
        | {"billing_contact": TEST_CONTACT},
    )
    account_id = account["id"]
    operator.grant(account_id, site.stack.info["tokens"]["customer"]["sub"], "owner")
    demo = local_stack.DemoData(demo_account=account_id)
    for name, kind in local_stack.DEMO_DEVICES:
        demo.devices.append(operator.post(f"/v1/accounts/{account_id}/devices", {"name": name, "kind": kind})["id"])
    customer = local_stack.ApiClient(api, customer_user["token"])
    local_stack.seed_card_on_file(customer, account_id, site.stack.info["stripe"]["url"], TEST_CONTACT)
    local_stack.seed_billing_items(operator, demo)
    for n, amount in enumerate((15_000, 8_800, 4_250), 1):
        body = {"description": f"Professional services, batch {n}", "amount": amount}
        operator.post(
            f"/v1/accounts/{account_id}/charges", body, headers={"Idempotency-Key": f"{account_id}-charge-{n}"}
        )
    key = tokens.load_private_key(site.stack.local_dir / "jwt-private.pem")
    meter = local_stack.ApiClient(api, tokens.mint(key, "console-tests-meter", ["billing:usage"]))
    now = clock_now()
    records = [  # the demo's usage, under ids of this account's (records dedupe on service + id)
        {"id": f"{account_id}-{metric}-{n}", "account_id": account_id, "service": service, "metric": metric}
        | {"quantity": quantity, "occurred_at": now, "device_id": device}
        for n, device in enumerate(demo.devices)
        for service, metric, quantity in (
            ("compute", "vcpu-hours", 60 + 25 * n),
            ("bandwidth", "egress-gb", 200 + 50 * n),
        )
    ]
    answer = meter.post("/v1/usage", {"records": records})
    assert answer["accepted"] == len(records), answer
    operator.put(f"/v1/accounts/{account_id}/budget", {"amount": 70_000, "thresholds": [50, 80, 100]})
    return Customer(site, customer_user["token"], account_id)


def clock_now() -> str:
    from functions.core import clock

    return clock.iso(clock.now())


def signin_url(customer: Customer) -> str:
    from urllib.parse import urlencode

    return f"{customer.site.url}/#/signin?{urlencode({'token': customer.token, 'account': customer.account})}"
