"""The rate card's operator routes (billing:admin): the card, and an account's negotiated rates."""

from __future__ import annotations

from chalice import Blueprint

from functions.accounts.service import account_guard
from functions.core.audit import Actor
from functions.core.auth import ADMIN
from functions.core.http import Call, api
from functions.usage import service as usage
from functions.usage.rate_schemas import RateCard, RateIn, RateVersion, RetireQuery

bp = Blueprint(__name__)
RATE = "/v1/rates/{service}/{metric}"
ACCOUNT_RATE = "/v1/accounts/{account_id}/rates/{service}/{metric}"


def _operator(call: Call) -> Actor:
    assert call.identity is not None
    return Actor(call.identity.sub, "operator")


@api(bp, "GET", "/v1/rates", scope=ADMIN, response=RateCard)
def get_rate_card(call: Call) -> RateCard:
    """The rate card: every (service, metric) with its versions"""
    return usage.rate_card()


@api(bp, "PUT", RATE, scope=ADMIN, body=RateIn, response=RateVersion)
def put_rate(call: Call, service: str, metric: str) -> RateVersion:
    """Add a version of a (service, metric)'s price (versions are immutable)"""
    return usage.set_rate(_operator(call), service, metric, call.body)


@api(bp, "DELETE", RATE, scope=ADMIN, query=RetireQuery, response=RateVersion)
def retire_rate(call: Call, service: str, metric: str) -> RateVersion:
    """Retire a (service, metric) from the card from a date (?effective_from=, ≥ today)"""
    return usage.retire_rate(_operator(call), service, metric, call.query.effective_from)


@api(bp, "PUT", ACCOUNT_RATE, scope=ADMIN, body=RateIn, response=RateVersion, guard=account_guard("usage"))
def put_account_rate(call: Call, account_id: str, service: str, metric: str) -> RateVersion:
    """Add a version of the account's negotiated rate, which comes before the card"""
    return usage.set_rate(call.account.actor, service, metric, call.body, call.account.account)


@api(bp, "DELETE", ACCOUNT_RATE, scope=ADMIN, query=RetireQuery, response=RateVersion, guard=account_guard("usage"))
def retire_account_rate(call: Call, account_id: str, service: str, metric: str) -> RateVersion:
    """End the account's negotiated rate from a date (the card prices it again)"""
    return usage.retire_rate(call.account.actor, service, metric, call.query.effective_from, call.account.account)
