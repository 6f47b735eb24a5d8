"""Platform routes: health and the OpenAPI document (the middleware is functions/core/middleware.py)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel

from functions.core import route_loader
from functions.core.http import Call, api
from functions.core.openapi import build_document

bp = Blueprint(__name__)


class Health(BaseModel):
    status: str


@api(bp, "GET", "/v1/health", scope=None, summary="Liveness check", response=Health)
def health(call: Call) -> Health:
    return Health(status="ok")


@api(bp, "GET", "/v1/openapi.json", scope=None, summary="This API's OpenAPI 3.1 document")
def openapi_document(call: Call) -> dict[str, Any]:
    return build_document(route_loader.load_all())  # the one request that needs every route module
