"""The lock files agree with the requirements they are compiled from (`make lock`), carry hashes, and pin
what Lambda runs (boto3 and botocore included). Parsing only: no network, no pip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.lock import normalize, pins

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {
    "requirements.lock": ["requirements.txt"],
    "requirements-dev.lock": ["requirements-dev.txt", "requirements.txt", "requirements-infra.txt"],
    "requirements-infra-tools.lock": ["requirements-infra-tools.txt"],
}
HINT = "run `make lock` (local/lock.py) after changing a requirements*.txt"


def _text(name: str) -> str:
    return (ROOT / name).read_text()


def _entries(lock_text: str) -> dict[str, tuple[str, list[str], str]]:
    """{name: (version, hashes, via comment)} of each package block of a pip-compile lock."""
    out = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock_text)
    for block in blocks:
        found = pins(block.splitlines()[0]) if block.strip() else {}
        for name, version in found.items():
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            out[name] = (version, hashes, block)
    return out


def _direct(requirements: str) -> dict[str, str]:
    """{name: version} of a requirements file's own == lines (not its -r includes)."""
    return pins(_text(requirements))


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_of_the_requirements_is_in_the_lock_at_its_version(lock):
    locked = pins(_text(lock))
    for requirements in LOCKS[lock]:
        differ = {n: (v, locked.get(n)) for n, v in _direct(requirements).items() if locked.get(n) != v}
        assert differ == {}, f"{requirements} vs {lock} (wanted, locked): {differ}; {HINT}"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_locked_package_has_hashes_and_is_needed(lock):
    entries = _entries(_text(lock))
    assert entries, lock
    assert [name for name, (_, hashes, _) in entries.items() if not hashes] == []
    wanted = set()
    for requirements in LOCKS[lock]:
        wanted |= set(_direct(requirements))
    # a package the lock has "via -r <file>" must still be asked for by that file (or was dropped from it)
    stale = [
        name
        for name, (_, _, block) in entries.items()
        if re.search(r"-r requirements[\w-]*\.txt", block) and name not in wanted
    ]
    assert stale == [], f"{lock} still pins {stale} as a direct requirement; {HINT}"


def test_the_lambda_lock_pins_boto3_and_botocore():
    locked = pins(_text("requirements.lock"))
    assert {"boto3", "botocore", "s3transfer", "jmespath"} <= set(locked)
    assert locked["boto3"] == _direct("requirements.txt")["boto3"]


def test_the_dev_lock_pins_every_lambda_package_at_the_same_version():
    lambda_pins, dev = pins(_text("requirements.lock")), pins(_text("requirements-dev.lock"))
    assert {n: (v, dev.get(n)) for n, v in lambda_pins.items() if dev.get(n) != v} == {}


def test_the_lambda_lock_ships_no_development_tool():
    locked = set(pins(_text("requirements.lock")))
    for tool in ("chalice", "moto", "pytest", "localstripe", "pip-tools", "playwright"):
        assert normalize(tool) not in locked


def test_a_lock_disagreeing_with_its_requirements_is_caught(tmp_path):
    """The check above can fail: a requirements pin moved past the lock is reported."""
    requirements = _text("requirements.txt").replace("stripe==", "stripe==0.0.1+moved-")
    locked = pins(_text("requirements.lock"))
    moved = {n: v for n, v in pins(requirements).items() if locked.get(n) != v}
    assert set(moved) == {"stripe"}
