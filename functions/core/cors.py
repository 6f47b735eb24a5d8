"""CORS, done by billow (DESIGN §8) rather than by Chalice's `cors=`, which takes one origin frozen at
package time: the origins are the stage's setting (settings.cors_origins), read when the function starts.

- Every response (errors included) gets `Vary: Origin`; when the request's `Origin` is one of the
  stage's, also `Access-Control-Allow-Origin: <that origin>` and `Access-Control-Expose-Headers`, so a
  console can read the request id, a replay marker, when to retry and where a created resource lives.
- A preflight (`OPTIONS` on any path of the API, answered by the routes functions/core/http.py registers
  next to each path) gets 204 with the path's methods, the headers a console sends (`Authorization`,
  `Content-Type`, `Idempotency-Key`) and how long the browser may keep the answer.
- Any other origin gets no CORS header at all: the browser refuses to hand the response to its page.
No cookies are used (tokens travel in `Authorization`), so `Access-Control-Allow-Credentials` is never sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping

from functions.core.settings import get_settings

EXPOSE_HEADERS = ("X-Request-Id", "Idempotent-Replayed", "Retry-After", "Location")
ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
MAX_AGE_SECONDS = 600  # Chromium caps a preflight's cache at 2 hours, Firefox at 24


def allowed_origin(headers: Mapping[str, str] | None) -> str | None:
    """The request's Origin when it is one of the stage's console origins, else None."""
    if not headers:
        return None
    origin = headers.get("origin") or headers.get("Origin")
    return origin if origin and origin in get_settings().cors_origins else None


def _add_vary(headers: MutableMapping[str, str]) -> None:
    for name in list(headers):
        if name.lower() == "vary":
            values = [v.strip() for v in headers[name].split(",") if v.strip()]
            if "origin" not in {v.lower() for v in values}:
                headers[name] = ", ".join([*values, "Origin"])
            return
    headers["Vary"] = "Origin"


def add_cors_headers(request_headers: Mapping[str, str] | None, response_headers: MutableMapping[str, str]) -> None:
    """What every response carries (in place): `Vary: Origin`, and for an allowed origin the origin and
    the headers the page may read."""
    _add_vary(response_headers)
    origin = allowed_origin(request_headers)
    if origin is not None:
        response_headers["Access-Control-Allow-Origin"] = origin
        response_headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSE_HEADERS)


def preflight_headers(request_headers: Mapping[str, str] | None, methods: Iterable[str]) -> dict[str, str]:
    """The answer to a preflight for a path whose methods are `methods`: empty (but `Vary`) for an origin
    that is not the stage's, so the browser stops there."""
    headers: dict[str, str] = {}
    add_cors_headers(request_headers, headers)
    if "Access-Control-Allow-Origin" in headers:
        headers["Access-Control-Allow-Methods"] = ", ".join(sorted({*methods, "OPTIONS"}))
        headers["Access-Control-Allow-Headers"] = ", ".join(ALLOW_HEADERS)
        headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return headers
