"""What the local Stripe side adds to localstripe for payments (DESIGN §5), each copying a Stripe behaviour:

- **PayPal PaymentIntents** (https://docs.stripe.com/payments/paypal/accept-a-payment): a PaymentIntent
  created with `payment_method_types=["paypal"]`, `payment_method_data[type]=paypal`, `confirm=true`
  and a `return_url` answers `requires_action` with `next_action.redirect_to_url.url` — here a local
  approval URL (`GET /_shim/paypal/<pi>/approve`). Opening it is the customer approving at PayPal:
  the PaymentIntent becomes `succeeded` at the Stripe side, the signed `payment_intent.succeeded`
  webhook is sent, and the browser is redirected to `return_url?payment_intent=…&redirect_status=
  succeeded`, as Stripe does. (Underneath, localstripe charges a test card; the PaymentIntent still
  shows `payment_method_types: ["paypal"]`.)
- **Declines carry the PaymentIntent** (https://docs.stripe.com/api/errors): a 402 from confirming a
  PaymentIntent includes `error.payment_intent` (with its client_secret) and `error.decline_code`
  (`generic_decline` when localstripe gives none).
- **Off-session 3-D Secure** (https://docs.stripe.com/payments/save-and-reuse#charge-saved-payment-method):
  `off_session=true` on a card that needs authentication is a 402 `authentication_required` (localstripe
  answers 200 `requires_action`); the PaymentIntent stays completable on-session with its client_secret
  (localstripe's `/_authenticate` is what Stripe.js's confirmCardPayment does).
- **`return_url` accepted** on card PaymentIntents, and **refund `reason`** (duplicate, fraudulent,
  requested_by_customer) accepted and shown on the refund; localstripe refuses both as unexpected.
- **Over-refunds refused**: a refund larger than what is left of the charge is a 400 (`charge_already_refunded`
  when nothing is left), as Stripe answers; localstripe refunds any amount.
- **`charge.refunded` events**: every refund (through the API or "the Dashboard", i.e. a test calling
  the API directly) sends the signed `charge.refunded` event with the charge and its refunds.
- **Stripe.js's createPaymentMethod** (https://docs.stripe.com/js/payment_methods/create_payment_method):
  `POST /v1/payment_methods` with the publishable key (`key=pk_…`), as Stripe.js sends it; localstripe
  only takes the secret key there. The card is attached to nobody.
- **A PayPal payment that fails** (https://docs.stripe.com/payments/paypal/accept-a-payment, "handle
  failures"): `GET /_shim/paypal/<pi>/decline` is the customer cancelling at PayPal (or PayPal
  refusing): the PaymentIntent goes back to `requires_payment_method` with `last_payment_error.code
  = payment_intent_authentication_failure`, `payment_intent.payment_failed` is sent, and the browser
  returns to `return_url?…&redirect_status=failed`.
- **Disputes**: `POST /_shim/disputes` `{charge | payment_intent, reason?}` is the cardholder disputing
  a charge: a `dp_…` dispute (`GET /v1/disputes/<id>`) and the signed `charge.dispute.created` event.
- **A dispute that closes** (https://docs.stripe.com/disputes/how-disputes-work, and test mode's
  `winning_evidence` / `losing_evidence`, https://docs.stripe.com/testing#disputes): `POST
  /_shim/disputes/<dp>/close` `{status: won | lost}` is the card network's decision: the dispute's
  `status` becomes `won` or `lost` and the signed `charge.dispute.closed` event is sent.
- **A refund that fails after it was accepted** (https://docs.stripe.com/refunds#failed-refunds, test
  card 4000000000005126 in https://docs.stripe.com/testing#refunds): `POST /_shim/refunds/<re>/fail`
  is the bank returning the refund: its `status` becomes `failed` (`failure_reason:
  expired_or_canceled_card`), it no longer counts in what is refunded of the charge, and the signed
  `charge.refund.updated` event is sent. `GET /v1/refunds/<re>` shows it.
- **Listing PaymentIntents by customer and creation time**
  (https://docs.stripe.com/api/payment_intents/list): `GET /v1/payment_intents?customer=&created[gte]=`
  filters as Stripe does, newest first; localstripe lists every PaymentIntent and refuses filters.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

_PI_CREATE = re.compile(r"^/v1/payment_intents$")
_PI_ONE = re.compile(r"^/v1/payment_intents/(pi_\w+)$")
_APPROVE = re.compile(r"^/_shim/paypal/(pi_\w+)/approve$")
_DECLINE = re.compile(r"^/_shim/paypal/(pi_\w+)/decline$")
_DISPUTE_ONE = re.compile(r"^/v1/disputes/(dp_\w+)$")
_DISPUTE_CLOSE = re.compile(r"^/_shim/disputes/(dp_\w+)/close$")
_REFUND_FAIL = re.compile(r"^/_shim/refunds/(re_\w+)/fail$")
_REFUND_ONE = re.compile(r"^/v1/refunds/(re_\w+)$")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@dataclass
class AdditionsState:
    paypal: dict[str, dict[str, str]] = field(default_factory=dict)  # pi id -> return_url, approve_url
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refund_reasons: dict[str, str] = field(default_factory=dict)
    failed_refunds: set[str] = field(default_factory=set)


class _Exported:
    """A plain object localstripe's Event can carry (it calls `_export()` on its data)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def _export(self, **_: Any) -> dict[str, Any]:
        return dict(self._data)


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict):  # payment_method_types[0]=card arrives as {"0": "card"}
        return [value[k] for k in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return list(value) if isinstance(value, list | tuple) else [value]


def _json(data: Any, status: int = 200) -> web.Response:
    from localstripe.server import json_response

    return json_response(data, status=status)


def _pi_view(state: AdditionsState, pi: Any) -> dict[str, Any]:
    data = pi._export()
    paypal = state.paypal.get(pi.id)
    if paypal is not None:
        data["payment_method_types"] = ["paypal"]
        if data.get("status") == "requires_payment_method" and not (paypal.get("approved") or paypal.get("declined")):
            data["status"] = "requires_action"
            data["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": paypal["approve_url"], "return_url": paypal["return_url"]},
            }
    return data


def _decline_details(error: Any) -> None:
    """Add error.payment_intent and error.decline_code to a localstripe 402, as Stripe sends them."""
    from localstripe.resources import Charge, PaymentIntent

    body = error.body.get("error", {})
    body["type"] = "card_error"
    body.setdefault("decline_code", "generic_decline" if body.get("code") == "card_declined" else body.get("code"))
    charge_id = body.get("charge")
    if charge_id:
        charge = Charge._api_retrieve(charge_id)
        if charge.payment_intent:
            body["payment_intent"] = PaymentIntent._api_retrieve(charge.payment_intent)._export()


async def _create_payment_intent(state: AdditionsState, request: web.Request) -> web.Response:
    from localstripe.errors import UserError
    from localstripe.resources import PaymentIntent
    from localstripe.server import get_post_data

    data = dict(await get_post_data(request) or {})
    data.pop("expand", None)
    types = _listify(data.pop("payment_method_types", None)) or ["card"]
    return_url = data.pop("return_url", None)
    if "paypal" in types:
        method_data = data.pop("payment_method_data", None) or {}
        if method_data.get("type") != "paypal" or not return_url:
            raise UserError(400, "A PayPal PaymentIntent needs payment_method_data[type]=paypal and a return_url")
        data.pop("confirm", None)
        pi = PaymentIntent(
            amount=data.get("amount"),
            currency=data.get("currency"),
            customer=data.get("customer"),
            metadata=data.get("metadata"),
        )
        approve_url = f"{request.url.origin()}/_shim/paypal/{pi.id}/approve"
        state.paypal[pi.id] = {"return_url": str(return_url), "approve_url": approve_url}
        return _json(_pi_view(state, pi))
    data["payment_method_types"] = types
    off_session = str(data.get("off_session", "")).lower() == "true"
    try:
        pi = PaymentIntent._api_create(**data)
    except UserError as exc:
        if exc.code == 402:
            _decline_details(exc)
        raise
    if off_session and pi.status == "requires_action":
        raise UserError(
            402,
            "This payment requires authentication: bring the customer back on-session to complete it.",
            {
                "type": "card_error",
                "code": "authentication_required",
                "decline_code": "authentication_required",
                "payment_intent": pi._export(),
            },
        )
    return _json(_pi_view(state, pi))


def _schedule(event_type: str, obj: Any) -> None:
    from localstripe.resources import Event
    from localstripe.webhooks import schedule_webhook

    schedule_webhook(Event(event_type, obj))


async def _create_refund(state: AdditionsState, request: web.Request) -> web.Response:
    from localstripe.errors import UserError
    from localstripe.resources import Charge, Refund
    from localstripe.server import get_post_data

    data = dict(await get_post_data(request) or {})
    data.pop("expand", None)
    reason = data.pop("reason", None)
    if reason is not None and reason not in REFUND_REASONS:
        raise UserError(400, f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}")
    _refuse_over_refund(data)
    refund = Refund._api_create(**data)
    if reason:
        state.refund_reasons[refund.id] = reason
    _schedule("charge.refunded", Charge._api_retrieve(refund.charge))
    return _json(_refund_view(state, refund))


def _refuse_over_refund(data: dict[str, Any]) -> None:
    """Stripe refuses a refund larger than what is left of the charge (400 `charge_already_refunded`
    when nothing is left); localstripe refunds any amount."""
    from localstripe.errors import UserError
    from localstripe.resources import Charge, PaymentIntent

    charge_id = data.get("charge")
    if charge_id is None and data.get("payment_intent"):
        latest = PaymentIntent._api_retrieve(str(data["payment_intent"])).latest_charge
        charge_id = latest.id if latest is not None else None
    if charge_id is None:
        return  # localstripe's own checks answer
    charge = Charge._api_retrieve(str(charge_id))
    left = charge.amount - sum(r.amount for r in charge.refunds._list if r.status != "failed")
    amount = int(data.get("amount") or left)
    if left <= 0:
        raise UserError(400, f"Charge {charge.id} has already been refunded.", {"code": "charge_already_refunded"})
    if amount > left:
        raise UserError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            {"param": "amount"},
        )


def _refund_view(state: AdditionsState, refund: Any) -> dict[str, Any]:
    data = refund._export()
    data["reason"] = state.refund_reasons.get(refund.id)
    if refund.id in state.failed_refunds:
        data["failure_reason"] = "expired_or_canceled_card"
    return data


async def _fail_refund(state: AdditionsState, refund_id: str) -> web.Response:
    from localstripe.resources import Refund

    refund = Refund._api_retrieve(refund_id)
    if refund.status != "failed":
        refund.status = "failed"
        state.failed_refunds.add(refund.id)
        _schedule("charge.refund.updated", _Exported(_refund_view(state, refund)))
    return _json(_refund_view(state, refund))


async def _close_dispute(state: AdditionsState, request: web.Request, dispute_id: str) -> web.Response:
    from localstripe.errors import UserError
    from localstripe.server import get_post_data

    dispute = state.disputes.get(dispute_id)
    if dispute is None:
        return _json({"error": {"type": "invalid_request_error", "message": "No such dispute"}}, 404)
    data = dict(await get_post_data(request) or {})
    status = data.get("status")
    if status not in ("won", "lost"):
        raise UserError(400, "status must be won or lost")
    if dispute["status"] not in ("won", "lost"):
        dispute["status"] = status
        _schedule("charge.dispute.closed", _Exported(dispute))
    return _json(dispute)


def _list_payment_intents(state: AdditionsState, request: web.Request) -> web.Response:
    from localstripe.errors import UserError
    from localstripe.resources import List, PaymentIntent, store
    from localstripe.server import unflatten_data

    query = dict(unflatten_data(request.query) or {})
    customer = query.pop("customer", None)
    created = query.pop("created", None) or {}
    limit = query.pop("limit", None)
    starting_after = query.pop("starting_after", None)
    if query or not isinstance(created, dict) or set(created) - {"gt", "gte", "lt", "lte"}:
        raise UserError(400, "Unsupported parameters")
    bounds = {k: int(v) for k, v in created.items()}
    items = [v for k, v in store.items() if k.startswith(f"{PaymentIntent.object}:")]
    items = [
        pi
        for pi in items
        if (customer is None or pi.customer == customer)
        and pi.created > bounds.get("gt", -1)
        and pi.created >= bounds.get("gte", -1)
        and pi.created < bounds.get("lt", 2**62)
        and pi.created <= bounds.get("lte", 2**62)
    ]
    page = List("/v1/payment_intents", limit=limit, starting_after=starting_after)
    page._list = sorted(items, key=lambda pi: (pi.created, pi.id), reverse=True)
    data = page._export()
    data["data"] = [_pi_view(state, PaymentIntent._api_retrieve(d["id"])) for d in data["data"]]
    return _json(data)


async def _approve_paypal(state: AdditionsState, pi_id: str) -> web.Response:
    from localstripe.resources import PaymentIntent, PaymentMethod

    paypal = state.paypal.get(pi_id)
    if paypal is None:
        return _json({"error": {"type": "invalid_request_error", "message": "No such PayPal PaymentIntent"}}, 404)
    pi = PaymentIntent._api_retrieve(pi_id)
    if not paypal.get("approved"):
        paypal["approved"] = "true"
        # The buyer's PayPal funds, stood in for by a test card localstripe knows how to charge.
        pm = PaymentMethod(
            type="card", card={"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        )
        pi.payment_method = pm.id
        pi._create_charge(on_failure_now=None)  # succeeded; localstripe sends payment_intent.succeeded
    query = urlencode({"payment_intent": pi.id, "redirect_status": "succeeded"})
    separator = "&" if "?" in paypal["return_url"] else "?"
    return web.Response(status=302, headers={"Location": f"{paypal['return_url']}{separator}{query}"})


async def _raise_dispute(state: AdditionsState, request: web.Request) -> web.Response:
    from localstripe.resources import Charge, PaymentIntent
    from localstripe.server import get_post_data

    data = dict(await get_post_data(request) or {})
    charge_id = data.get("charge")
    if not charge_id and data.get("payment_intent"):
        charge_id = PaymentIntent._api_retrieve(data["payment_intent"]).latest_charge.id
    charge = Charge._api_retrieve(charge_id)
    dispute = {
        "id": f"dp_{secrets.token_hex(12)}",
        "object": "dispute",
        "amount": int(data.get("amount") or charge.amount),
        "currency": charge.currency,
        "charge": charge.id,
        "payment_intent": charge.payment_intent,
        "reason": data.get("reason") or "fraudulent",
        "status": "needs_response",
        "created": int(time.time()),
        "livemode": False,
    }
    state.disputes[dispute["id"]] = dispute
    _schedule("charge.dispute.created", _Exported(dispute))
    return _json(dispute)


async def _create_payment_method_with_publishable_key(request: web.Request, handler: Any) -> web.StreamResponse:
    from localstripe.errors import UserError
    from localstripe.resources import PaymentMethod
    from localstripe.server import get_post_data

    data = dict(await get_post_data(request, remove_auth=False) or {})
    key = data.pop("key", None)
    if not (isinstance(key, str) and key.startswith("pk_")):
        raise UserError(401, "Unauthorized")
    data.pop("payment_user_agent", None)
    return _json(PaymentMethod._api_create(**data)._export())


async def _decline_paypal(state: AdditionsState, pi_id: str) -> web.Response:
    from localstripe.resources import PaymentIntent

    paypal = state.paypal.get(pi_id)
    if paypal is None:
        return _json({"error": {"type": "invalid_request_error", "message": "No such PayPal PaymentIntent"}}, 404)
    pi = PaymentIntent._api_retrieve(pi_id)
    if not (paypal.get("approved") or paypal.get("declined")):
        paypal["declined"] = "true"
        pi._authentication_failed = (
            True  # Stripe: payment_intent_authentication_failure, back to requires_payment_method
        )
        _schedule("payment_intent.payment_failed", _Exported(_pi_view(state, pi)))
    query = urlencode({"payment_intent": pi.id, "redirect_status": "failed"})
    separator = "&" if "?" in paypal["return_url"] else "?"
    return web.Response(status=302, headers={"Location": f"{paypal['return_url']}{separator}{query}"})


def public_middleware(state: AdditionsState) -> Any:
    """Routes a browser or a test opens without an API key (outside localstripe's auth)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        approve = _APPROVE.match(request.path)
        if approve and request.method == "GET":
            return await _approve_paypal(state, approve.group(1))
        decline = _DECLINE.match(request.path)
        if decline and request.method == "GET":
            return await _decline_paypal(state, decline.group(1))
        if request.path == "/_shim/disputes" and request.method == "POST":
            return await _raise_dispute(state, request)
        close = _DISPUTE_CLOSE.match(request.path)
        if close and request.method == "POST":
            return await _close_dispute(state, request, close.group(1))
        fail = _REFUND_FAIL.match(request.path)
        if fail and request.method == "POST":
            return await _fail_refund(state, fail.group(1))
        if (
            request.path == "/v1/payment_methods"
            and request.method == "POST"
            and not request.headers.get("Authorization")
        ):
            return await _create_payment_method_with_publishable_key(request, handler)
        return await handler(request)

    return middleware


def api_middleware(state: AdditionsState) -> Any:
    """The API calls the additions change (inside localstripe's auth and error handling)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST" and _PI_CREATE.match(request.path):
            return await _create_payment_intent(state, request)
        if request.method == "POST" and request.path == "/v1/refunds":
            return await _create_refund(state, request)
        if request.method == "GET" and request.path == "/v1/payment_intents":
            return _list_payment_intents(state, request)
        refund_one = _REFUND_ONE.match(request.path)
        if refund_one and request.method == "GET":
            from localstripe.resources import Refund

            return _json(_refund_view(state, Refund._api_retrieve(refund_one.group(1))))
        one = _PI_ONE.match(request.path)
        if one and request.method == "GET" and one.group(1) in state.paypal:
            from localstripe.resources import PaymentIntent

            return _json(_pi_view(state, PaymentIntent._api_retrieve(one.group(1))))
        dispute = _DISPUTE_ONE.match(request.path)
        if dispute and request.method == "GET":
            found = state.disputes.get(dispute.group(1))
            if found is None:
                return _json({"error": {"type": "invalid_request_error", "message": "No such dispute"}}, 404)
            return _json(found)
        return await handler(request)

    return middleware
