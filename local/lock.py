"""`make lock`: compile the requirement sets to lock files with hashes (pip-tools' pip-compile).

Usage: ``python -m local.lock`` (``make lock``). Run it after any change to a ``requirements*.txt``;
tests/unit/test_locks.py fails while a requirements file and its lock disagree.

- ``requirements.lock``: what runs in Lambda (requirements.txt, boto3 and botocore included: the code
  imports boto3, and Lambda's bundled copy is not used). ``make package`` installs exactly this file,
  hash-checked, for the Lambda platform (local/package.py).
- ``requirements-dev.lock``: the development venv (requirements-dev.txt, which includes
  requirements.txt, plus requirements-infra.txt); ``make test`` installs it with ``--require-hashes``.
  It is compiled under the Lambda lock's versions (a constraints file), so both sets pin every package
  they share to the same version.
- ``requirements-infra-tools.lock``: the template linters' own venv (cfn-lint, checkov: their pins
  clash with billow's, so they are resolved apart).

pip-compile runs against PyPI only (``--index-url https://pypi.org/simple``, no pip configuration
file, no find-links), so a lock is the same on any machine on the same day, and its hashes are every
file PyPI publishes for each pinned version (the manylinux wheels Lambda needs among them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDEX = "https://pypi.org/simple"
LAMBDA_LOCK = "requirements.lock"
DEV_LOCK = "requirements-dev.lock"
TOOLS_LOCK = "requirements-infra-tools.lock"
CONSTRAINTS = "build/lambda-pins.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def pins(lock_text: str) -> dict[str, str]:
    """{normalized name: version} of a lock file (or a requirements file's == lines)."""
    out = {}
    for line in lock_text.splitlines():
        match = PIN.match(line.strip())
        if match:
            out[normalize(match.group(1))] = match.group(3)
    return out


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # no machine-wide index, find-links or constraints
    env["CUSTOM_COMPILE_COMMAND"] = "make lock"
    return env


def compile_lock(output: str, inputs: list[str], *extra: str) -> None:
    command = [
        sys.executable,
        "-m",
        "piptools",
        "compile",
        "--quiet",
        "--generate-hashes",
        "--allow-unsafe",  # pip and setuptools pinned too: --require-hashes installs refuse anything unpinned
        "--strip-extras",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--index-url",
        INDEX,
        "--output-file",
        output,
        *extra,
        *inputs,
    ]
    print("+", " ".join(command[3:]), flush=True)
    subprocess.run(command, cwd=ROOT, env=_env(), check=True)


def main() -> int:
    compile_lock(LAMBDA_LOCK, ["requirements.txt"])
    # The dev set under the Lambda set's versions: a constraints file of its pins (constraints take no hashes).
    lambda_pins = pins((ROOT / LAMBDA_LOCK).read_text())
    constraints = ROOT / CONSTRAINTS  # a fixed path: the dev lock's "via" comments name it
    constraints.parent.mkdir(parents=True, exist_ok=True)
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(lambda_pins.items())))
    compile_lock(DEV_LOCK, ["requirements-dev.txt", "requirements-infra.txt"], "--constraint", CONSTRAINTS)
    compile_lock(TOOLS_LOCK, ["requirements-infra-tools.txt"])
    dev = pins((ROOT / DEV_LOCK).read_text())
    differ = {name: (version, dev.get(name)) for name, version in lambda_pins.items() if dev.get(name) != version}
    if differ:
        print(f"lock: the dev lock pins Lambda packages differently: {differ}", file=sys.stderr)
        return 1
    print(f"{LAMBDA_LOCK}: {len(lambda_pins)} packages; {DEV_LOCK}: {len(dev)}; {TOOLS_LOCK} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
