"""The CDK app: one stack per deployable stage (or the one named by `-c stage=NAME` / --stage).

Offline: synthesis needs the package from `make package`, aws-cdk-lib and node; no AWS call, no `cdk` CLI.

    make synth                                   # every stage -> infra/cdk.out/Billow<Stage>.template.json
    make synth STAGE=prod SETTINGS=path/to.json  # one stage, its settings from that file
    .venv/bin/python -m infra.app --stage prod   # one stage (infra/settings/prod.json)
    cd infra && npx aws-cdk@2 deploy -c stage=prod   # the CLI runs this file through cdk.json

Each stage's settings come from infra/settings/<stage>.json (infra/settings.py declares them); a stage
whose file is missing, or holds placeholders, fails the synthesis with one line per value to fill in.

Run by the CLI (CDK_CONTEXT_JSON set), the context comes from the CLI, which has read infra/cdk.json;
run directly, this module reads infra/cdk.json's context itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

# jsii warns on every start that node 20 is past its end of life; node 20 is what the machines have.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

if __package__ in (None, ""):  # run as `python app.py` from infra/ (cdk.json): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aws_cdk as cdk

from infra.stack import BillowStack
from infra.stages import (
    PACKAGE_DIR_KEY,
    ROOT,
    SETTINGS_DIR_KEY,
    SETTINGS_FILE_KEY,
    STAGES_KEY,
    StageError,
    deployable_chalice_stages,
    load_cdk_context,
    load_chalice_config,
    stage_settings,
)

INFRA = ROOT / "infra"
DEFAULT_OUTDIR = INFRA / "cdk.out"
CONSOLE_DIR_KEY = "billow:consoleDir"  # the console app deployed by a stage that hosts it (console/)


def build_app(
    *, context: dict[str, Any] | None = None, outdir: Path | None = None, stages: list[str] | None = None
) -> cdk.App:
    """The app with a stack for each stage requested (all deployable stages by default)."""
    merged = {**load_cdk_context(), **(context or {})}
    app = cdk.App(context=merged, outdir=str(outdir) if outdir else None)
    chalice_config = load_chalice_config()
    package_dir = Path(str(app.node.try_get_context(PACKAGE_DIR_KEY)))
    if not package_dir.is_absolute():
        package_dir = (INFRA / package_dir).resolve()
    requested = stages or ([str(app.node.try_get_context("stage"))] if app.node.try_get_context("stage") else None)
    names = requested or sorted(deployable_chalice_stages(chalice_config))
    # What says where the settings are: the app's context (the CDK CLI passes its own through the environment).
    where = {key: app.node.try_get_context(key) for key in (STAGES_KEY, SETTINGS_DIR_KEY, SETTINGS_FILE_KEY)}
    if where[SETTINGS_FILE_KEY] and len(names) != 1:
        raise StageError(f"one settings file ({where[SETTINGS_FILE_KEY]}) for {len(names)} stages: name one stage")
    work_dir = Path(app.outdir) / "billow"
    console_dir = Path(str(app.node.try_get_context(CONSOLE_DIR_KEY) or ROOT / "console"))
    settings, problems = [], []
    for name in names:  # every stage's problems at once, not the first stage's only
        try:
            settings.append(stage_settings(name, where, chalice_config))
        except StageError as exc:
            problems.append(str(exc))
    if problems:
        raise StageError("\n".join(problems))
    for stage in settings:
        BillowStack(app, stage=stage, package_dir=package_dir, work_dir=work_dir, console_dir=console_dir)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.app", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", help="a stage to synthesize (repeatable; default: all)")
    parser.add_argument("--outdir", type=Path, default=None, help="cloud assembly directory (infra/cdk.out)")
    parser.add_argument(
        "--package-dir", type=Path, default=None, help="where the function zips, sam.json and manifest.json are"
    )
    parser.add_argument("--settings", type=Path, default=None, help="the settings file of the one --stage")
    parser.add_argument("--settings-dir", type=Path, default=None, help="where <stage>.json are (infra/settings)")
    args = parser.parse_args(argv)
    context: dict[str, Any] = {}
    if args.package_dir:
        context[PACKAGE_DIR_KEY] = str(args.package_dir.resolve())
    if args.settings:
        context[SETTINGS_FILE_KEY] = str(args.settings.resolve())
    if args.settings_dir:
        context[SETTINGS_DIR_KEY] = str(args.settings_dir.resolve())
    outdir = args.outdir or (None if os.environ.get("CDK_OUTDIR") else DEFAULT_OUTDIR)
    try:
        assembly = build_app(context=context, outdir=outdir, stages=args.stage).synth()
    except StageError as exc:
        print(f"synth: {exc}", file=sys.stderr)
        return 1
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {Path(assembly.directory) / stack.template_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
