"""Asking a running stack for an invoice's PDF link as a client does (issue 21): while billow renders it the
route answers 409 `pdf-not-ready` with `Retry-After`; wait that long and ask again, a bounded number of times."""

from __future__ import annotations

import time
from typing import Any

import requests


def pdf_link(url: str, headers: dict[str, str], *, attempts: int = 15, timeout: float = 60) -> requests.Response:
    """GET `url` (an invoice's `/pdf`), following 409 pdf-not-ready's Retry-After up to `attempts` times (the
    local stack's queue pump renders within a few seconds); the last response."""
    response: Any = None
    for _ in range(attempts):
        response = requests.get(url, headers=headers, timeout=timeout)
        if response.status_code != 409 or response.json().get("code") != "pdf-not-ready":
            return response
        time.sleep(min(float(response.headers.get("Retry-After", "1")), 5))
    return response
