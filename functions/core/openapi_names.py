"""Readable, stable `operationId`s (`listInvoices`, `createPayment`, `getBillingItem`), derived from each
route's method and path by one rule (docs/api.md), so routes added later get theirs without a list:

- the words are the path's segments after `/v1`, parameters left out; an account's sub-resource drops the
  leading `accounts/{account_id}` (`/v1/accounts/{account_id}/payments` → Payment), unless a top-level
  path has the same words (`/v1/rates/…` and `/v1/accounts/{account_id}/rates/…`): then it keeps `Account`;
- a segment followed by a parameter is singular (`invoices/{invoice_id}` → Invoice);
- the verb: GET of a paginated list → `list` (plural kept), other GETs → `get`, POST → `create`,
  PUT → `set`, PATCH → `update`, DELETE → `delete`; a POST (or DELETE) whose last segment is an action
  word (`setup`, `closure`, `cancellation`, `link`, …) takes that action's verb instead.
"""

from __future__ import annotations

import re

# last segment → (verb, suffix) for POST, and for DELETE where listed
_ACTIONS = {
    "setup": ("setup", ""),
    "upgrade": ("upgrade", ""),
    "bulk": ("bulkUpdate", ""),
    "link": ("link", ""),
    "closure": ("close", ""),
    "cancellation": ("cancel", ""),
    "rotate-secret": ("rotate", "Secret"),
    "redeliver": ("redeliver", ""),
}
_DELETE_ACTIONS = {"link": ("unlink", ""), "cancellation": ("undoCancel", "")}
_VERBS = {"GET": "get", "POST": "create", "PUT": "set", "PATCH": "update", "DELETE": "delete"}
_ACCOUNT = ("accounts", "{account_id}")


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _pascal(word: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", word) if part)


def _segments(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return parts[1:] if parts and parts[0] == "v1" else parts


def _is_param(segment: str) -> bool:
    return segment.startswith("{")


def _words(segments: list[str]) -> list[str]:
    """The resource words of `segments` (parameters out, a segment before a parameter singular)."""
    words = []
    for i, segment in enumerate(segments):
        if _is_param(segment):
            continue
        followed_by_param = i + 1 < len(segments) and _is_param(segments[i + 1])
        stem, _, extension = segment.partition(".")
        words.append(_pascal(singular(stem) if followed_by_param else stem) + _pascal(extension))
    return words


def operation_id(method: str, path: str, *, is_list: bool, top_level_paths: set[str]) -> str:
    """The operationId of `method path`; `is_list`: its answer is a page (`data`, `next_cursor`);
    `top_level_paths`: the words of every path outside /v1/accounts/{account_id}/ (see the module doc)."""
    segments = _segments(path)
    if tuple(segments[:2]) == _ACCOUNT and len(segments) > 2:
        rest = segments[2:]
        keep_account = "/".join(s for s in rest if not _is_param(s)) in top_level_paths
        segments = (["account", "{account_id}"] if keep_account else []) + rest
    last = segments[-1] if segments else ""
    actions = _ACTIONS if method == "POST" else _DELETE_ACTIONS if method == "DELETE" else {}
    if last in actions:
        verb, suffix = actions[last]
        words = _words(segments[:-1]) or ["Account"]
        if len(segments) > 1 and not _is_param(segments[-2]) and segments[-2] != "account":
            words[-1] = _pascal(segments[-2])  # `billing-items/bulk`: the collection, plural
        return verb + "".join(words) + suffix
    words = _words(segments)
    if method == "GET" and is_list:
        return "list" + "".join(words)
    if method in ("POST", "PUT", "DELETE") and words and not _is_param(last):
        words[-1] = _pascal(singular(last.partition(".")[0]))  # createPayment, setPaymentMethod
    return _VERBS[method] + "".join(words)


def top_level_paths(paths: list[str]) -> set[str]:
    """The non-parameter words of every path not under /v1/accounts/{account_id}/ (for operation_id)."""
    out = set()
    for path in paths:
        segments = _segments(path)
        if tuple(segments[:2]) != _ACCOUNT:
            out.add("/".join(s for s in segments if not _is_param(s)))
    return out
