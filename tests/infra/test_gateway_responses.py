"""API Gateway's own errors are problem+json, like billow's, and unknown routes are 404 as locally."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.gateway import GATEWAY_PROBLEMS, MESSAGE, PROBLEM, sam_gateway_responses
from local.api_server import RouteNotFound

ROOT = Path(__file__).resolve().parents[2]


def render(template: str) -> dict:
    """What API Gateway sends: $context.error.messageString is its message, already JSON-quoted."""
    return json.loads(template.replace(MESSAGE, json.dumps('Missing "Authentication" Token')))


DEV_CONSOLE = ("https://billing-dev.nimbus-ci.fr",)  # tests/infra/settings/dev.json: one console origin
PROD_CONSOLES = ("https://billing.nimbus-ci.fr", "https://admin.nimbus-ci.fr")  # prod.json: two


def _api(template: dict) -> dict:
    (api,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    return api


def test_the_stack_sets_every_gateway_response(synthesized):
    assert _api(synthesized.templates["dev"])["GatewayResponses"] == sam_gateway_responses(DEV_CONSOLE)
    assert _api(synthesized.templates["prod"])["GatewayResponses"] == sam_gateway_responses(PROD_CONSOLES)


def test_with_one_console_origin_every_gateway_response_carries_it_in_the_synthesized_template(synthesized):
    """DESIGN §8: API Gateway's own errors can carry one fixed origin, so they do when the stage has one."""
    for response_type, response in _api(synthesized.templates["dev"])["GatewayResponses"].items():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Access-Control-Allow-Origin"] == f"'{DEV_CONSOLE[0]}'", response_type
        assert headers["Vary"] == "'Origin'"
        assert headers["Access-Control-Expose-Headers"] == "'X-Request-Id, Idempotent-Replayed, Retry-After, Location'"


def test_with_several_or_no_console_origins_gateway_responses_carry_none(synthesized):
    for response in _api(synthesized.templates["prod"])["GatewayResponses"].values():
        assert not any(h.startswith("Access-Control-") for h in response["ResponseParameters"]["Headers"])
    for response in sam_gateway_responses(()).values():
        assert not any(h.startswith("Access-Control-") for h in response["ResponseParameters"]["Headers"])


def test_the_functions_get_the_stage_s_console_origins_for_cors(synthesized):
    for stage, origins in (("dev", DEV_CONSOLE), ("prod", PROD_CONSOLES)):
        template = synthesized.templates[stage]
        functions = [
            r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
        ]
        assert functions
        for fn in functions:
            assert fn["Environment"]["Variables"]["BILLOW_CORS_ORIGINS"] == ",".join(origins), stage


@pytest.mark.parametrize("response_type", sorted(GATEWAY_PROBLEMS))
def test_each_response_is_a_problem_whose_status_is_the_http_status(response_type):
    response = sam_gateway_responses()[response_type]
    body = render(response["ResponseTemplates"]["application/json"])
    assert set(body) == {"type", "title", "status", "detail", "code", "errors"}
    assert body["status"] == int(response["StatusCode"])
    assert body["type"] == body["code"]
    assert response["ResponseParameters"]["Headers"]["Content-Type"] == f"'{PROBLEM}'"


def test_an_unknown_route_is_the_same_404_as_the_local_server():
    local = json.loads(RouteNotFound("/v1/nope").body)
    for response_type in ("MISSING_AUTHENTICATION_TOKEN", "RESOURCE_NOT_FOUND"):
        response = sam_gateway_responses()[response_type]
        body = render(response["ResponseTemplates"]["application/json"])
        assert response["StatusCode"] == "404"
        assert {k: body[k] for k in ("type", "code", "status", "errors")} == {
            k: local[k] for k in ("type", "code", "status", "errors")
        }


def test_a_401_says_how_to_authenticate_and_a_429_when_to_retry():
    responses = sam_gateway_responses()
    assert responses["UNAUTHORIZED"]["ResponseParameters"]["Headers"]["WWW-Authenticate"] == "'Bearer realm=\"billow\"'"
    assert "Retry-After" in responses["THROTTLED"]["ResponseParameters"]["Headers"]


def test_every_gateway_code_is_documented():
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", (ROOT / "docs" / "errors.md").read_text(), re.M))
    assert {p.code for p in GATEWAY_PROBLEMS.values()} - documented == set()
