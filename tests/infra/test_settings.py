"""Stage settings declared once (infra/settings.py): a deployed stage without them, or with the local
stage's placeholders, fails the synthesis with one line per value; the test settings are complete."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra import app as infra_app
from infra.settings import BY_KEY, SETTINGS, check, lambda_environment, read_settings_file
from infra.stages import SETTINGS_DIR_KEY, SETTINGS_FILE_KEY, StageError
from tests.infra.conftest import TEST_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "infra" / "settings.example.json"
REQUIRED = [s.key for s in SETTINGS if s.required]


def _lines(message: str) -> list[str]:
    return [line.strip() for line in message.splitlines() if line.startswith("  ")]


def test_synth_of_dev_without_settings_fails_with_one_line_per_missing_value(tmp_path, capsys):
    code = infra_app.main(["--stage", "dev", "--settings-dir", str(tmp_path), "--outdir", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert "stage 'dev'" in err and "(no such file)" in err
    lines = _lines(err)
    assert [line.split(":")[0] for line in lines] == REQUIRED
    assert all(": missing — " in line for line in lines)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.template.json"))


def test_synth_of_every_stage_lists_each_stages_values(tmp_path):
    with pytest.raises(StageError) as caught:
        infra_app.build_app(context={SETTINGS_DIR_KEY: str(tmp_path)}, outdir=tmp_path / "out")
    message = str(caught.value)
    assert "stage 'dev'" in message and "stage 'prod'" in message
    assert len(_lines(message)) == 2 * len(REQUIRED)


def test_the_example_file_fails_the_same_way_naming_what_to_fill_in(tmp_path):
    with pytest.raises(StageError) as caught:
        infra_app.build_app(context={SETTINGS_FILE_KEY: str(EXAMPLE)}, outdir=tmp_path, stages=["prod"])
    lines = _lines(str(caught.value))
    assert [line.split(":")[0] for line in lines] == REQUIRED
    assert all("default" in line or "placeholder" in line for line in lines), lines
    assert set(read_settings_file(EXAMPLE)) == set(BY_KEY), "the example shows every setting"


def test_the_example_file_passes_once_each_value_it_names_is_filled_in(tmp_path):
    # the two readings of "the example file" (docs/deploy.md, "Stage settings"): as shipped it fails
    # (above); filled in — each value its failing lines name replaced by that setting's declared example,
    # nothing else touched — it passes the same check synth runs
    raw = read_settings_file(EXAMPLE)
    named = [line.split(":")[0] for line in check(raw)]
    assert named == REQUIRED
    filled = raw | {key: BY_KEY[key].example for key in named}
    assert check(filled) == []
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(filled))
    assert check(read_settings_file(path)) == []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_test_settings_are_complete(stage):
    assert check(read_settings_file(TEST_SETTINGS / f"{stage}.json")) == []


def _complete() -> dict:
    return read_settings_file(TEST_SETTINGS / "prod.json")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sellerName": ""}, "sellerName: empty"),
        ({"sellerName": "Billow Cloud SAS"}, "sellerName: the local stage's default"),
        ({"sellerAddress": ["12 rue de la Paix", "75002 Paris", "France"]}, "sellerAddress: the local stage's default"),
        ({"supportEmail": "help@billow.example"}, "supportEmail: a placeholder"),
        ({"operatorEmail": "not an address"}, "operatorEmail: 'not an address' is not an e-mail address"),
        ({"consoleOrigins": ["http://billing.nimbus-ci.fr"]}, "is not an https origin"),
        ({"consoleOrigins": ["https://billing.nimbus-ci.fr/"]}, "is not an https origin"),
        ({"consoleOrigins": ["http://localhost:3000"]}, "consoleOrigins: the local stage's default"),
        ({"consoleOrigins": []}, "consoleOrigins: must be a non-empty list"),
        ({"sellerTaxId": "<your VAT number>"}, "sellerTaxId: a template marker"),
        ({"stripePublishableKey": None}, "stripePublishableKey: missing (consoleHosting is set)"),
        ({"stripePublishableKey": "sk_live_secret"}, "is not a Stripe publishable key"),
        ({"consoleHosting": {"domainName": "billing.nimbus-ci.fr"}}, "domainName and certificateArn go together"),
        (
            {"consoleOrigins": ["https://other.nimbus-ci.fr"]},
            "consoleOrigins: must include https://billing.nimbus-ci.fr",
        ),
        ({"sellerNmae": "typo"}, "sellerNmae: unknown setting"),
    ],
)
def test_each_placeholder_or_malformed_value_is_one_line(change, expected):
    problems = check(_complete() | change)
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_the_settings_reach_the_lambda_environment():
    env = lambda_environment(_complete())
    assert env["BILLOW_SELLER_ADDRESS"] == "4 quai des Chartrons|33000 Bordeaux|France"
    assert env["BILLOW_CORS_ORIGINS"] == "https://billing.nimbus-ci.fr,https://admin.nimbus-ci.fr"
    assert env["BILLOW_PAYPAL_RETURN_ORIGINS"] == env["BILLOW_CORS_ORIGINS"]
    assert env["BILLOW_CONSOLE_URL"] == "https://billing.nimbus-ci.fr"
    assert env["BILLOW_SUPPORT_EMAIL"] == "support@nimbus-ci.fr"


def test_the_local_defaults_declared_are_the_apps(monkeypatch):
    """The declaration's local values are what functions/core/settings.py uses when nothing is set."""
    from functions.core import settings as app_settings

    for name in list(os.environ):
        if name.startswith("BILLOW_"):
            monkeypatch.delenv(name)
    app_settings.reset_settings()
    try:
        s = app_settings.get_settings()
        app = {
            "sellerName": s.seller_name,
            "sellerAddress": list(s.seller_address),
            "sellerEmail": s.seller_email,
            "sellerTaxId": s.seller_tax_id,
            "emailFrom": s.email_from,
            "supportEmail": s.support_email,
            "operatorEmail": s.operator_email,
            "consoleOrigins": list(s.cors_origins),
        }
    finally:
        monkeypatch.undo()
        app_settings.reset_settings()
    assert app == {key: BY_KEY[key].local for key in app}


def test_docs_deploy_has_a_row_for_every_setting():
    text = (ROOT / "docs" / "deploy.md").read_text()
    rows = {line.split("|")[1].strip().strip("`") for line in text.splitlines() if line.startswith("| `")}
    assert [s.key for s in SETTINGS if s.key not in rows] == []
    for setting in SETTINGS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{setting.key}` |"))
        assert len(row.split("|")) >= 6, f"{setting.key}: name, what, example, where used"


def test_the_settings_files_in_the_repository_parse():
    for path in [EXAMPLE, *sorted((ROOT / "infra" / "settings").glob("*.json")), *TEST_SETTINGS.glob("*.json")]:
        json.loads(path.read_text())
