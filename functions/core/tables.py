"""The one table spec: names, keys, indexes and TTL attributes of every DynamoDB table.

It feeds table creation (tests, local stack), the CDK stack in infra/, and the PynamoDB models'
Meta (functions/core/db.py); tests/unit/test_table_spec.py proves the models agree with it.
Every key attribute is a string. Owners: only the named domain's store touches a table.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.core.settings import get_settings


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"  # ALL | KEYS_ONLY


@dataclass(frozen=True)
class TableSpec:
    name: str
    owner: str
    # every table is keyed by pk and sk (strings) unless its spec says otherwise
    hash_key: str = "pk"
    range_key: str | None = "sk"
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None
    purpose: str = ""
    # DynamoDB Streams view type (e.g. NEW_IMAGE) when the table's changes feed a consumer, else None
    stream: str | None = None


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            name="accounts",
            owner="accounts",
            # sparse: due#<shard 0..31> -> <next recurring date>#<account> on billable profiles, and
            # retry#<shard> -> <retry date>#<account> on dunning entries
            indexes=(
                IndexSpec("due", "due_pk", "due_sk", projection="KEYS_ONLY"),
                # contact#<billing contact's e-mail, lower-cased> on profiles: the accounts an SES bounce or
                # complaint concerns (functions/accounts/suppression.py); keys only, so only a contact change
                # writes it
                IndexSpec("by_contact", "contact_pk", projection="KEYS_ONLY"),
            ),
            purpose="account profiles, members, devices, the account-number counter, dunning retry entries",
        ),
        TableSpec(
            name="ledger",
            owner="core",
            indexes=(IndexSpec("by_date", "gsi1_pk", "gsi1_sk"),),
            purpose="per-account balance item, ledger entries, invoice headers, lines and applications",
        ),
        TableSpec(
            name="audit",
            owner="core",
            purpose="audit events, one per change, newest first by sort key",
        ),
        TableSpec(
            name="idempotency",
            owner="core",
            range_key=None,
            ttl_attribute="expires_at",
            purpose="Idempotency-Key records with their stored responses (TTL 7 days)",
        ),
        TableSpec(
            name="suppressions",
            owner="core",
            range_key=None,
            purpose="e-mail addresses SES reported a hard bounce or a complaint for: never written to again",
        ),
        TableSpec(
            name="events",
            owner="core",
            indexes=(
                # the event id -> the event (GET /v1/events/{event_id})
                IndexSpec("by_id", "event_id"),
                # events -> <created at>#<event id>: every event, newest first (GET /v1/events)
                IndexSpec("by_created", "gsi1_pk", "gsi1_sk"),
            ),
            ttl_attribute="expires_at",
            stream="NEW_IMAGE",
            purpose="the outbox: outbound events (docs/events.md), one sequence counter per account and one for "
            "the billing run; its stream feeds the publisher (EventBridge)",
        ),
        TableSpec(
            name="payments",
            owner="payments",
            # <account>#PAY -> <created at>#<payment id>: an account's payments, newest first
            indexes=(IndexSpec("by_created", "gsi1_pk", "gsi1_sk"),),
            purpose="per account: the Stripe customer, the card on file and its pending change, card changes, "
            "payments, refunds to cards, disputes, support tickets; Stripe webhook dedupe markers",
        ),
        TableSpec(
            name="billing_items",
            owner="billing_items",
            indexes=(
                # <account>#associated | <account>#dissociated  ->  <created>#<item> (immutable: stable pages)
                IndexSpec("by_view", "view_pk", "order_sk"),
                # <account>#<device> (associated items only)     ->  <created>#<item>
                IndexSpec("by_device", "device_pk", "order_sk"),
            ),
            purpose="billable items per account, their device link, status and what has been invoiced",
        ),
        TableSpec(
            name="usage",
            owner="usage",
            ttl_attribute="expires_at",
            purpose="usage dedupe markers per (service, record id), aggregates per account and period, seals",
        ),
        TableSpec(
            name="billing_runs",
            owner="billing_run",
            purpose="per account and billed period: the Recurring invoice and which steps are done",
        ),
        TableSpec(
            name="webhooks",
            owner="events",
            ttl_attribute="expires_at",
            purpose="outbound webhook endpoints (secrets KMS-encrypted), each (event, endpoint) delivery and its "
            "attempts (TTL 30 days)",
        ),
    )
}


def table_name(name: str) -> str:
    """The physical name of a table for this stage, e.g. billow-local-ledger."""
    return f"{get_settings().table_prefix}{TABLES[name].name}"
