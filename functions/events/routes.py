"""Webhook endpoints' operator routes (billing:admin, DESIGN §2 v4 routes, §7) and the deliverer's queue
consumer. Parse, authorize, one service call, render."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from functions.core import queues
from functions.core.audit import Actor
from functions.core.auth import ADMIN
from functions.core.http import Call, api
from functions.core.middleware import deployed_worker
from functions.core.resources import queue_name
from functions.core.schemas import PageQuery
from functions.events import service
from functions.events.webhook_schemas import (
    AttemptList,
    EndpointIn,
    EndpointList,
    EndpointPatch,
    RedeliverIn,
    Redelivery,
    WebhookEndpoint,
    WebhookEndpointWithSecret,
)

bp = Blueprint(__name__)
ENDPOINTS = "/v1/webhook-endpoints"
ENDPOINT = ENDPOINTS + "/{endpoint_id}"
# What an endpoint's url and event_types can be refused with (webhook_endpoints.py, ssrf.py)
ENDPOINT_PROBLEMS = tuple(
    (422, code)
    for code in (
        "webhook-url-invalid",
        "webhook-url-not-https",
        "webhook-url-private-address",
        "webhook-url-unresolvable",
        "unknown-event-type",
        "too-many-event-types",
    )
)


def _operator(call: Call) -> Actor:
    assert call.identity is not None
    return Actor(call.identity.sub, "operator")


@api(
    bp,
    "POST",
    ENDPOINTS,
    scope=ADMIN,
    body=EndpointIn,
    response=WebhookEndpointWithSecret,
    status=201,
    idempotent=True,
    problems=ENDPOINT_PROBLEMS,
)
def create_endpoint(call: Call) -> WebhookEndpointWithSecret:
    """Register a webhook endpoint {url, event_types, description}; its signing secret is shown in this answer only"""
    return service.create(_operator(call), call.body, call.idem)


@api(bp, "GET", ENDPOINTS, scope=ADMIN, query=PageQuery, response=EndpointList)
def list_endpoints(call: Call) -> EndpointList:
    """The webhook endpoints (never their secrets)"""
    return service.list_page(call.query.limit, call.query.cursor)


@api(bp, "GET", ENDPOINT, scope=ADMIN, response=WebhookEndpoint)
def get_endpoint(call: Call, endpoint_id: str) -> WebhookEndpoint:
    """One webhook endpoint"""
    return service.endpoint(endpoint_id)


@api(bp, "PATCH", ENDPOINT, scope=ADMIN, body=EndpointPatch, response=WebhookEndpoint, problems=ENDPOINT_PROBLEMS)
def update_endpoint(call: Call, endpoint_id: str) -> WebhookEndpoint:
    """Change an endpoint's url, event_types, description or enabled (true re-enables a disabled one)"""
    return service.update(_operator(call), endpoint_id, call.body.model_dump(mode="json", exclude_unset=True))


@api(bp, "DELETE", ENDPOINT, scope=ADMIN, response=WebhookEndpoint)
def delete_endpoint(call: Call, endpoint_id: str) -> WebhookEndpoint:
    """Delete a webhook endpoint: nothing more is sent to it"""
    return service.delete(_operator(call), endpoint_id)


@api(bp, "POST", ENDPOINT + "/rotate-secret", scope=ADMIN, response=WebhookEndpointWithSecret, idempotent=True)
def rotate_secret(call: Call, endpoint_id: str) -> WebhookEndpointWithSecret:
    """A new signing secret (shown once); the old one keeps signing for 24 h, both signatures sent"""
    return service.rotate(_operator(call), endpoint_id, call.idem)


@api(bp, "GET", ENDPOINT + "/deliveries", scope=ADMIN, query=PageQuery, response=AttemptList)
def list_deliveries(call: Call, endpoint_id: str) -> AttemptList:
    """The endpoint's delivery attempts, newest first: status, duration, response code (never the body)"""
    return service.deliveries(endpoint_id, call.query.limit, call.query.cursor)


@api(
    bp,
    "POST",
    "/v1/events/{event_id}/redeliver",
    scope=ADMIN,
    body=RedeliverIn,
    response=Redelivery,
    status=202,
    idempotent=True,
    problems=((409, "webhook-endpoint-disabled"),),
)
def redeliver_event(call: Call, event_id: str) -> Redelivery:
    """Send an event again to one endpoint ({endpoint_id}) or to every enabled endpoint subscribed to it"""
    return service.redeliver(_operator(call), event_id, call.body.endpoint_id, call.idem)


@deployed_worker
@bp.on_sqs_message(queue=queue_name(service.QUEUE), batch_size=10, name="deliver_webhooks", maximum_concurrency=10)
def deliver_webhooks(event: Any) -> dict[str, Any]:
    return queues.process_batch(service.QUEUE, event, service.handle_delivery_message)
