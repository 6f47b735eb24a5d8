"""The PDF render queue (issue 21, docs/invoices.md "PDF"), in-process moto: issuing an invoice queues
exactly one render; the route answers 409 pdf-not-ready (Retry-After) until the worker stored the PDF,
then a presigned URL; a payment makes the stored PDF stale (409, then the fresh one); the worker is
idempotent under redelivery; a render that keeps failing ends in the DLQ."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import boto3
import pytest

from functions.core import clock, pdf_renders
from tests.integration.render_helpers import deliver, drain_renders, render_messages


@pytest.fixture
def pdfs(api, queues_and_mail, monkeypatch):
    """The API with every queue, the invoice bucket, and a count of the PDFs rendered."""
    from functions.core.resources import bucket_name
    from functions.invoices import render, store

    store.reset_client()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name())
    rendered = []
    real = render.render_pdf
    monkeypatch.setattr(render, "render_pdf", lambda inv, *a, **k: rendered.append(inv.status) or real(inv, *a, **k))
    api.rendered = rendered
    yield api
    store.reset_client()


def _post(api, path, body):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    status, data, _ = api.call("POST", path, body, token=api.admin, headers=headers)
    assert status in (200, 201), data
    return data


def _charge(api, amount=4_200):
    account = api.create_account(name="Acme", currency="usd")
    charge = _post(api, f"/v1/accounts/{account['id']}/charges", {"description": "Consulting", "amount": amount})
    return account["id"], charge


def _pdf(api, account_id, invoice_id):
    return api.call("GET", f"/v1/accounts/{account_id}/invoices/{invoice_id}/pdf", token=api.admin)


def test_issuing_queues_exactly_one_render_naming_the_invoice(pdfs):
    account_id, charge = _charge(pdfs)
    messages = render_messages(visibility=0)
    assert [json.loads(m["Body"]) for m in messages] == [{"account_id": account_id, "invoice_id": charge["id"]}]
    credit = _post(pdfs, f"/v1/accounts/{account_id}/credits", {"amount": 1_000, "reason": "Goodwill"})
    bodies = [json.loads(m["Body"]) for m in render_messages(visibility=0)]
    assert sorted(b["invoice_id"] for b in bodies) == sorted([charge["id"], credit["id"]])
    assert pdfs.rendered == []  # issuing renders nothing itself


def test_the_route_answers_409_with_retry_after_before_the_worker_and_a_url_after(pdfs):
    account_id, charge = _charge(pdfs)
    status, problem, headers = _pdf(pdfs, account_id, charge["id"])
    assert status == 409 and headers["Content-Type"] == "application/problem+json"
    assert problem["code"] == problem["type"] == "pdf-not-ready" and headers["Retry-After"] == "2"
    assert pdfs.rendered == []  # the API never renders
    # asked again while not ready: the route queues no second render (one per invoice and fingerprint)
    assert _pdf(pdfs, account_id, charge["id"])[0] == 409
    assert len(render_messages(visibility=0)) == 2  # the and the route's first
    with clock.frozen(clock.now() + timedelta(seconds=61)):  # asked over a minute ago and still not stored
        assert _pdf(pdfs, account_id, charge["id"])[0] == 409
    assert len(render_messages(visibility=0)) == 3  # so asked again
    assert drain_renders(pdfs.client) == 3 and pdfs.rendered == ["open"]  # the others found it current
    status, link, _ = _pdf(pdfs, account_id, charge["id"])
    assert status == 200 and f"invoices/{account_id}/{charge['id']}.pdf" in link["url"] and link["expires_at"]
    assert render_messages(visibility=0) == [] and pdfs.rendered == ["open"]


def test_a_payment_makes_the_stored_pdf_stale_then_the_fresh_one_is_served(pdfs):
    from functions.invoices import store

    account_id, charge = _charge(pdfs)
    drain_renders(pdfs.client)
    assert _pdf(pdfs, account_id, charge["id"])[0] == 200
    before = store.pdf_fingerprint(account_id, charge["id"])
    payment = {"amount": 4_200, "method": "offline", "reference": "ACME-42", "received_on": "2026-12-06"}
    _post(pdfs, f"/v1/accounts/{account_id}/payments", payment)
    status, problem, headers = _pdf(pdfs, account_id, charge["id"])
    assert (status, problem["code"], headers["Retry-After"]) == (409, "pdf-not-ready", "2")
    assert drain_renders(pdfs.client) == 1 and pdfs.rendered == ["open", "closed"]
    assert _pdf(pdfs, account_id, charge["id"])[0] == 200
    assert store.pdf_fingerprint(account_id, charge["id"]) not in (None, before)


def test_the_worker_is_idempotent_under_redelivery(pdfs):
    account_id, charge = _charge(pdfs)
    messages = render_messages(visibility=0)
    assert deliver(pdfs.client, messages) == {"batchItemFailures": []}
    assert pdfs.rendered == ["open"]
    # the same message again (SQS delivers at least once), and a duplicate request: nothing new rendered
    redelivered = [dict(m, MessageId=str(uuid.uuid4())) for m in messages]
    assert deliver(pdfs.client, redelivered) == {"batchItemFailures": []}
    pdf_renders.request_renders(account_id, [charge["id"]])
    assert drain_renders(pdfs.client) == 1 and pdfs.rendered == ["open"]
    # a message for an invoice that does not exist renders nothing and is not retried
    pdf_renders.request_renders(account_id, ["inv_" + "z" * 20])
    assert drain_renders(pdfs.client) == 1 and pdfs.rendered == ["open"]


def test_a_render_that_keeps_failing_is_retried_then_lands_in_the_dlq(pdfs, monkeypatch):
    from functions.core.queues import queue_url
    from functions.core.resources import QUEUES, dlq_name
    from functions.invoices import render

    account_id, charge = _charge(pdfs)
    monkeypatch.setattr(render, "render_pdf", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("font missing")))
    attempts = 0
    while messages := render_messages(visibility=0):
        answer = deliver(pdfs.client, messages)
        assert answer == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
        attempts += 1
        assert attempts <= QUEUES["pdf-render"].max_receive_count
    assert attempts == QUEUES["pdf-render"].max_receive_count  # retried, then SQS gave up on it
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.get_queue_url(QueueName=dlq_name("pdf-render"))["QueueUrl"]
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["invoice_id"] for m in dead] == [charge["id"]]
    assert queue_url("pdf-render")  # the main queue is empty, the route still answers 409 and queues again
    assert _pdf(pdfs, account_id, charge["id"])[0] == 409 and len(render_messages(visibility=0)) == 1
