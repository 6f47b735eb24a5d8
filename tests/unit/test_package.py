"""The Lambda zip (`make package`): layout, shipped bytecode, determinism, and that it imports on its own.

The zip is built once for this module by `python -m local.package build/package` (as `make package`),
unless build/package/deployment.zip is newer than every file the package is made from (then that one
is checked, as it is the zip CDK deploys, and the infra tests reuse what this module built). A build
runs `chalice package`, which resolves requirements.txt with pip (PyPI, or pip's cache): about 15 s on
the reference machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT_ZIP = ROOT / "build" / "package" / "deployment.zip"
# Everything the zip is made from; a directory's own mtime changes when a file in it is added or removed.
SOURCE_FILES = ("app.py", "requirements.txt", ".chalice/config.json", "local/package.py")
SOURCE_DIRS = ("functions", "chalicelib", "vendor")
TAG = sys.implementation.cache_tag  # cpython-311: the test runs on the Lambda runtime's Python
NEVER_SHIPPED = ("local", "tests", "bench", "infra")


def _newest_source_mtime() -> float:
    newest = max((ROOT / name).stat().st_mtime for name in SOURCE_FILES)
    for name in SOURCE_DIRS:
        top = ROOT / name
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            newest = max(newest, Path(dirpath).stat().st_mtime)
            for filename in filenames:
                newest = max(newest, (Path(dirpath) / filename).lstat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def package_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if BUILT_ZIP.is_file() and BUILT_ZIP.stat().st_mtime > _newest_source_mtime():
        return BUILT_ZIP
    # Built where `make package` puts it, so the infra tests (same xdist group) reuse it: one build a run.
    out = BUILT_ZIP.parent
    result = subprocess.run(
        [sys.executable, "-m", "local.package", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "deployment.zip"


@pytest.fixture(scope="module")
def unpacked(package_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(package_zip) as archive:
        archive.extractall(tree)
    return tree


def _rel(tree: Path, pattern: str) -> list[str]:
    return sorted(p.relative_to(tree).as_posix() for p in tree.glob(pattern) if p.is_file())


def test_the_app_and_functions_are_at_the_root_and_nothing_local(unpacked: Path) -> None:
    assert (unpacked / "app.py").is_file()
    assert (unpacked / "chalice" / "app.py").is_file()
    assert (unpacked / "functions" / "core" / "__init__.py").is_file()
    # vendor/functions was followed: the zip holds every module of functions/, not the symlink
    repo_modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "functions").rglob("*.py"))
    assert _rel(unpacked, "functions/**/*.py") == repo_modules
    assert not (unpacked / "vendor").exists()
    for name in NEVER_SHIPPED:
        assert not (unpacked / name).exists(), f"{name}/ must never be in the Lambda zip"


def test_the_zip_is_deterministic(package_zip: Path) -> None:
    with zipfile.ZipFile(package_zip) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    assert not [name for name in names if name.endswith("/")]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}


def _pyc_for(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"


def test_every_module_ships_unchecked_hash_bytecode(unpacked: Path) -> None:
    sources = sorted(unpacked.rglob("*.py"))
    ours = [p for p in sources if p.relative_to(unpacked).parts[0] == "functions" or p.name == "app.py"]
    assert len(ours) > 10
    for source in sources:
        pyc = _pyc_for(source)
        assert pyc.is_file(), f"no bytecode for {source.relative_to(unpacked)}"
        header = pyc.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        # PEP 552 flags: bit 0 = hash-based, bit 1 = check_source; compileall's unchecked-hash writes 1
        assert int.from_bytes(header[4:8], "little") == 1, f"{pyc} is not an unchecked hash-based pyc"
        assert header[8:16] == importlib.util.source_hash(source.read_bytes()), f"{pyc} is stale"
    # only bytecode for the runtime's interpreter, and none without a source next to it
    pycs = sorted(unpacked.rglob("*.pyc"))
    assert all(p.name.endswith(f".{TAG}.pyc") and p.parent.name == "__pycache__" for p in pycs)
    assert len(pycs) == len(sources)


_IMPORT_APP = """
import json, sys
tree = sys.argv[1]
stdlib = tuple(sys.path)  # -I -S: the standard library only
sys.path[:] = [tree, *stdlib]
import app
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not module.__file__.startswith((tree, *stdlib))
)
print(json.dumps({"routes": sorted(app.app.routes), "name": app.app.app_name, "outside": outside}))
"""


def test_the_app_imports_from_the_unpacked_zip_alone(unpacked: Path, tmp_path: Path) -> None:
    def bytecode_state() -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in unpacked.rglob("*.pyc")}

    before = bytecode_state()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "HOME": str(tmp_path),
    }
    # bytecode writing stays on: a pyc the interpreter rejected would be rewritten, and caught below
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _IMPORT_APP, str(unpacked)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["name"] == "billow"
    assert "/v1/health" in report["routes"]
    assert report["outside"] == [], "modules loaded from outside the package and the standard library"
    assert bytecode_state() == before, "the interpreter recompiled shipped modules instead of using their pyc"
