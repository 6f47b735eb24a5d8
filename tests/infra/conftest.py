"""The CDK app, synthesized once per test session (offline: aws-cdk-lib + node, no AWS call).

- `package_dir`: build/package, the zips (one per function), sam.json and manifest.json `make package`
  builds and CDK deploys. `make test` builds it before pytest when its fingerprint (the sources, the
  lock, the builder) is not current, so the tests only read it; run alone, pytest builds it here
  (exactly as `make package`) when it is missing or stale.
- `synthesized`: the real app's dev and prod stacks, from that package, with the complete test settings
  (tests/infra/settings/<stage>.json: every value a deployed stage needs, none a placeholder).
- `workers`: the prod stack of a stand-in app that already has what other issues will add — the
  card-validation, billing-run and billing-account consumers and the daily schedule at 00:05 UTC —
  packaged by the real `chalice package`, and an existing JWT issuer passed in through the context.
  It proves the queue/schedule patches and grants before those handlers land.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra import sam
from infra.settings import read_settings_file
from infra.stages import SETTINGS_DIR_KEY, STAGES_KEY

ROOT = Path(__file__).resolve().parents[2]
TEST_SETTINGS = Path(__file__).resolve().parent / "settings"
# The console app a hosting stage deploys: console/ once it has its page, else a one-page stand-in.
CONSOLE_DIR = (
    ROOT / "console" if (ROOT / "console" / "index.html").is_file() else Path(__file__).parent / "console_standin"
)
TEST_CONTEXT = {SETTINGS_DIR_KEY: str(TEST_SETTINGS), "billow:consoleDir": str(CONSOLE_DIR)}
CHALICE_CLI = "import sys; from chalice.cli import main; sys.exit(main())"
BUILT = ROOT / "build" / "package"
EXISTING_ISSUER = {
    "issuer": "https://issuer.example/billow",
    "jwksUrl": "https://issuer.example/billow/.well-known/jwks.json",
    "audience": ["console-app", "ops-app"],
}

WORKERS_APP = textwrap.dedent(
    """
    from chalice import Chalice, Cron

    app = Chalice(app_name="billow")


    @app.route("/v1/health")
    def health():
        return {"status": "ok"}


    # By name, as functions/ does with queue_name(): the prefix baked in is the packaging stage's.
    @app.on_sqs_message(queue="billow-prod-card-validation", batch_size=10, maximum_concurrency=3)
    def validate_card(event):
        return None


    @app.on_sqs_message(queue="billow-local-billing-run", batch_size=1)
    def run_shard(event):
        return None


    # By ARN, with another account and prefix: the stack re-points it to this stage's queue.
    @app.on_sqs_message(queue_arn="arn:aws:sqs:eu-west-3:111111111111:billow-dev-billing-account", batch_size=5)
    def bill_account(event):
        return None


    @app.schedule(Cron(5, 0, "*", "*", "?", "*"))
    def daily_run(event):
        return None
    """
)


def _neutral_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BILLOW_"))}
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "none"),
    )
    return env


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from local.package import is_current

    if not is_current(BUILT):
        result = subprocess.run(
            [sys.executable, "-m", "local.package", str(BUILT)],
            cwd=ROOT,
            env=_neutral_env(tmp_path_factory.mktemp("package-env")),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return BUILT


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # stage -> CloudFormation template
    files: dict[str, Path]  # stage -> template file
    assets: dict[str, dict[str, Any]]  # stage -> assets manifest


def _synth(outdir: Path, *, stages: list[str], context: dict[str, Any] | None = None) -> Synthesized:
    from infra.app import build_app

    assembly = build_app(context=context, outdir=outdir, stages=stages).synth()
    out = Synthesized(outdir=outdir, templates={}, files={}, assets={})
    for stack in assembly.stacks:
        stage = stack.stack_name.removeprefix("Billow").lower()
        out.templates[stage] = stack.template
        out.files[stage] = Path(assembly.directory) / stack.template_file
        out.assets[stage] = json.loads((Path(assembly.directory) / f"{stack.stack_name}.assets.json").read_text())
    return out


@pytest.fixture(scope="session")
def synthesized(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return _synth(tmp_path_factory.mktemp("cdk.out"), stages=["dev", "prod"], context=TEST_CONTEXT)


@pytest.fixture(scope="session")
def workers_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("workers-app")
    (project / ".chalice").mkdir()
    (project / ".chalice" / "config.json").write_text((ROOT / ".chalice" / "config.json").read_text())
    (project / "app.py").write_text(WORKERS_APP)
    (project / "requirements.txt").write_text("")
    out = project / "out"
    result = subprocess.run(
        [sys.executable, "-c", CHALICE_CLI, "package", "--stage", "prod", str(out)],
        cwd=project,
        env=_neutral_env(project),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The stand-in has no dependencies to leave out: every function gets Chalice's own zip.
    functions = sam.function_ids(sam.read_template_file(out / "sam.json"))
    manifest = {"functions": {logical_id: {"zip": "deployment.zip"} for logical_id in functions}}
    (out / sam.MANIFEST).write_text(json.dumps(manifest))
    return out


@pytest.fixture(scope="session")
def workers(workers_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    prod = read_settings_file(TEST_SETTINGS / "prod.json") | {"jwtIssuer": EXISTING_ISSUER, "consoleHosting": False}
    context = {"billow:packageDir": str(workers_package), STAGES_KEY: {"prod": prod}, **TEST_CONTEXT}
    return _synth(tmp_path_factory.mktemp("cdk.out-workers"), stages=["prod"], context=context)


@pytest.fixture(scope="session")
def prod(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.templates["prod"]


@pytest.fixture(scope="session")
def workers_prod(workers: Synthesized) -> dict[str, Any]:
    return workers.templates["prod"]
