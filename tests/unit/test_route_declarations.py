"""How a route is declared (functions/core/http.py): its summary is `summary=` or its docstring, and
`routes(bp, ...)` binds what a blueprint's routes share. The errors' declarations keep their codes."""

from __future__ import annotations

import pytest
from chalice import Blueprint

from functions.core import errors
from functions.core.auth import READ
from functions.core.http import ROUTES, Call, api, routes


@pytest.fixture
def declared():
    """The RouteSpecs a test declares, taken out of ROUTES again (the OpenAPI tests read ROUTES)."""
    before = len(ROUTES)
    new: list = []
    yield new
    new.extend(ROUTES[before:])
    del ROUTES[before:]


def test_a_route_without_a_summary_takes_its_docstring_on_one_line(declared):
    bp = Blueprint("functions.example.routes")
    guard = object()
    route = routes(bp, guard=guard)

    @route("GET", "/v1/example", scope=READ)
    def example(call: Call) -> dict:
        """The example,
        on two lines"""
        return {}

    @api(bp, "GET", "/v1/other", scope=READ, summary="Said here")
    def other(call: Call) -> dict:
        """Not this"""
        return {}

    first, second = ROUTES[-2:]
    assert (first.summary, first.guard, first.tag) == ("The example, on two lines", guard, "example")
    assert (second.summary, second.guard) == ("Said here", None)


def test_a_route_with_neither_summary_nor_docstring_is_refused(declared):
    bp = Blueprint("functions.example.routes")
    with pytest.raises(TypeError, match="needs a summary"):

        @api(bp, "GET", "/v1/nothing", scope=READ)
        def nothing(call: Call) -> dict:
            return {}


def test_found_answers_the_value_or_404_with_the_code():
    assert errors.found(0, "unused", code="x-not-found") == 0
    with pytest.raises(errors.NotFoundError) as raised:
        errors.found(None, "no x here", code="x-not-found")
    assert (raised.value.status, raised.value.code, raised.value.detail) == (404, "x-not-found", "no x here")


def test_a_subclass_keeps_what_its_class_line_does_not_set():
    class Sealed(errors.ConflictError):
        code = "sealed"

    assert (Sealed.status, Sealed.code, Sealed.title) == (409, "sealed", "Conflict")
    assert (errors.ConcurrentUpdateError.status, errors.ConcurrentUpdateError.code) == (409, "concurrent-update")
