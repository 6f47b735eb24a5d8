"""Stage values in .chalice/config.json and the CDK context (infra/cdk.json) agree."""

from __future__ import annotations

import copy

import pytest

from infra.stages import (
    STAGES_KEY,
    StageError,
    check_agreement,
    deployable_chalice_stages,
    load_cdk_context,
    load_chalice_config,
    stage_settings,
)


@pytest.fixture
def context():
    return load_cdk_context()


@pytest.fixture
def chalice():
    return load_chalice_config()


def test_the_cdk_context_has_exactly_the_deployable_chalice_stages(context, chalice):
    assert set(context[STAGES_KEY]) == deployable_chalice_stages(chalice) == {"dev", "prod"}
    check_agreement(context[STAGES_KEY], chalice)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_stage_takes_its_names_from_chalice(context, chalice, stage):
    settings = stage_settings(stage, context, chalice)
    env = {**chalice["environment_variables"], **chalice["stages"][stage]["environment_variables"]}
    assert settings.table_prefix == env["BILLOW_TABLE_PREFIX"]
    assert env["BILLOW_STAGE"] == stage
    assert settings.api_gateway_stage == chalice["stages"][stage]["api_gateway_stage"]
    assert settings.stack_name == f"Billow{stage.capitalize()}"


def test_the_local_stage_is_never_deployed(context, chalice):
    with pytest.raises(StageError, match="unknown stage"):
        stage_settings("local", context, chalice)


def test_a_stage_missing_on_one_side_is_refused(context, chalice):
    extra = copy.deepcopy(chalice)
    extra["stages"]["staging"] = {"environment_variables": {"BILLOW_STAGE": "staging"}}
    with pytest.raises(StageError, match="differ"):
        check_agreement(context[STAGES_KEY], extra)


def test_a_chalice_stage_may_not_set_what_the_stack_provides(context, chalice):
    clash = copy.deepcopy(chalice)
    clash["stages"]["prod"]["environment_variables"]["BILLOW_JWT_ISSUER"] = "https://elsewhere"
    with pytest.raises(StageError, match="BILLOW_JWT_ISSUER"):
        check_agreement(context[STAGES_KEY], clash)


def test_a_table_prefix_of_another_stage_is_refused(context, chalice):
    wrong = copy.deepcopy(chalice)
    wrong["stages"]["dev"]["environment_variables"]["BILLOW_TABLE_PREFIX"] = "billow-prod-"
    with pytest.raises(StageError, match="BILLOW_TABLE_PREFIX"):
        check_agreement(context[STAGES_KEY], wrong)


def test_an_existing_issuer_must_be_complete_and_https(context, chalice):
    broken = copy.deepcopy(context)
    broken[STAGES_KEY]["prod"]["jwtIssuer"] = {"issuer": "http://issuer", "jwksUrl": "http://x", "audience": "a"}
    with pytest.raises(StageError, match="https"):
        stage_settings("prod", broken, chalice)
    broken[STAGES_KEY]["prod"]["jwtIssuer"] = {"issuer": "https://issuer"}
    with pytest.raises(StageError, match="jwksUrl"):
        stage_settings("prod", broken, chalice)


def test_console_origins_are_origins_https_or_this_machine(context, chalice):
    assert stage_settings("prod", context, chalice).console_origins == ("https://console.billow.example",)
    assert stage_settings("dev", context, chalice).console_origins == ("http://localhost:3000",)
    for bad in ("https://console.example/", "http://console.example", "https://console.example/app", "*"):
        broken = copy.deepcopy(context)
        broken[STAGES_KEY]["prod"]["consoleOrigins"] = [bad]
        with pytest.raises(StageError, match="consoleOrigins"):
            stage_settings("prod", broken, chalice)


def test_a_chalice_stage_may_not_set_the_cors_origins_the_stack_provides(context, chalice):
    clash = copy.deepcopy(chalice)
    clash["stages"]["dev"]["environment_variables"]["BILLOW_CORS_ORIGINS"] = "https://elsewhere"
    with pytest.raises(StageError, match="BILLOW_CORS_ORIGINS"):
        check_agreement(context[STAGES_KEY], clash)
