"""Stage values in .chalice/config.json and the stage settings files (infra/settings.py) agree."""

from __future__ import annotations

import copy

import pytest

from infra.settings import read_settings_file
from infra.stages import (
    STAGES_KEY,
    StageError,
    check_agreement,
    deployable_chalice_stages,
    load_chalice_config,
    stage_settings,
)
from tests.infra.conftest import TEST_CONTEXT, TEST_SETTINGS


@pytest.fixture
def context():
    return {STAGES_KEY: {name: read_settings_file(TEST_SETTINGS / f"{name}.json") for name in ("dev", "prod")}}


@pytest.fixture
def chalice():
    return load_chalice_config()


def test_the_deployable_stages_are_the_chalice_stages_but_local(context, chalice):
    assert deployable_chalice_stages(chalice) == {"dev", "prod"}
    check_agreement(["dev", "prod"], chalice)
    assert {stage_settings(n, TEST_CONTEXT, chalice).name for n in ("dev", "prod")} == {"dev", "prod"}


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


def test_a_stage_chalice_does_not_know_is_refused(context, chalice):
    with pytest.raises(StageError, match="differ"):
        check_agreement(["staging"], chalice)


@pytest.mark.parametrize("variable", ["BILLOW_SELLER_NAME", "BILLOW_CORS_ORIGINS", "BILLOW_CONSOLE_URL"])
def test_a_chalice_stage_may_not_set_what_the_settings_file_provides(chalice, variable):
    clash = copy.deepcopy(chalice)
    clash["stages"]["dev"]["environment_variables"][variable] = "anything"
    with pytest.raises(StageError, match=variable):
        check_agreement(["dev"], clash)


def test_a_chalice_stage_may_not_set_what_the_stack_provides(context, chalice):
    clash = copy.deepcopy(chalice)
    clash["stages"]["prod"]["environment_variables"]["BILLOW_JWT_ISSUER"] = "https://elsewhere"
    with pytest.raises(StageError, match="BILLOW_JWT_ISSUER"):
        check_agreement(["prod"], clash)


def test_a_table_prefix_of_another_stage_is_refused(context, chalice):
    wrong = copy.deepcopy(chalice)
    wrong["stages"]["dev"]["environment_variables"]["BILLOW_TABLE_PREFIX"] = "billow-prod-"
    with pytest.raises(StageError, match="BILLOW_TABLE_PREFIX"):
        check_agreement(["dev"], wrong)


def test_an_existing_issuer_must_be_complete_and_https(context, chalice):
    broken = copy.deepcopy(context)
    broken[STAGES_KEY]["prod"]["jwtIssuer"] = {"issuer": "http://issuer", "jwksUrl": "http://x", "audience": "a"}
    with pytest.raises(StageError, match="https"):
        stage_settings("prod", broken, chalice)
    broken[STAGES_KEY]["prod"]["jwtIssuer"] = {"issuer": "https://issuer"}
    with pytest.raises(StageError, match="jwksUrl"):
        stage_settings("prod", broken, chalice)


def test_console_origins_are_origins_https_or_this_machine(context, chalice):
    prod = ("https://billing.nimbus-ci.fr", "https://admin.nimbus-ci.fr")  # tests/infra/settings/prod.json
    assert stage_settings("prod", context, chalice).console_origins == prod
    assert stage_settings("dev", context, chalice).console_origins == ("https://billing-dev.nimbus-ci.fr",)
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
