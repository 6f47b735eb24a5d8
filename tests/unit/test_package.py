"""The Lambda zip (`make package`): layout, shipped bytecode, determinism, and that it imports on its own.

The zip is built once for this module by `python -m local.package build/package` (as `make package`),
unless build/package/deployment.zip is newer than every file the package is made from (then that one
is checked, as it is the zip CDK deploys, and the infra tests reuse what this module built). A build
installs requirements.lock (hash-checked, from build/wheels once downloaded) and runs `chalice package`
with an empty requirements file: about 30 s on the reference machine once the wheels are there.
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
SOURCE_FILES = ("app.py", "requirements.lock", ".chalice/config.json", "local/package.py")
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
from functions.core import route_loader
route_loader.load_all()  # every route module too: the app imports them on their first request
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


# ---- the locked dependencies (DESIGN §9) ---------------------------------------------------------------


def _locked() -> dict[str, str]:
    from local.lock import pins

    return pins((ROOT / "requirements.lock").read_text())


def test_the_zip_holds_exactly_the_locked_distributions_at_their_versions(unpacked: Path) -> None:
    from local.lock import normalize

    shipped = {}
    for dist_info in unpacked.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        shipped[normalize(name)] = version
    assert shipped == _locked()
    assert not (unpacked / "bin").exists(), "console scripts are not shipped"
    # boto3 and botocore come from the lock, not from Lambda's runtime
    assert (unpacked / "boto3" / "__init__.py").is_file() and (unpacked / "botocore" / "__init__.py").is_file()


def _lock_line(name: str) -> tuple[str, list[str]]:
    text = (ROOT / "requirements.lock").read_text()
    block = text[text.index(f"\n{name}==") + 1 :].split("\n\n")[0]
    block = block.split("\n    # via")[0]
    import re

    return block.splitlines()[0].split(" ")[0], re.findall(r"--hash=sha256:([0-9a-f]{64})", block)


def test_a_changed_hash_fails_the_package_install_offline(package_zip: Path, tmp_path: Path) -> None:
    """The package step's install (local/package.py install_lock: --require-hashes, --no-deps, Lambda's
    platform) from the wheelhouse the build filled, with no index: one altered hash fails it; the
    lock's own hashes install the same wheel (so the failure is the hash, not a missing file)."""
    from local.package import WHEELHOUSE, PackageError, install_lock

    pin, hashes = _lock_line("six")
    assert list(WHEELHOUSE.glob("six-*.whl")), "the build downloads the lock's wheels into build/wheels"
    altered = [h[:-1] + ("0" if h[-1] != "0" else "1") for h in hashes]
    bad = tmp_path / "bad.lock"
    bad.write_text(f"{pin} " + " ".join(f"--hash=sha256:{h}" for h in altered) + "\n")
    with pytest.raises(PackageError, match=r"(?s)DO NOT MATCH THE HASHES.*six"):
        install_lock(bad, tmp_path / "bad-target", WHEELHOUSE)
    assert not (tmp_path / "bad-target" / "six.py").exists()
    good = tmp_path / "good.lock"
    good.write_text(f"{pin} " + " ".join(f"--hash=sha256:{h}" for h in hashes) + "\n")
    install_lock(good, tmp_path / "good-target", WHEELHOUSE)
    assert (tmp_path / "good-target" / "six.py").is_file()


def test_an_unhashed_lock_line_fails_too(package_zip: Path, tmp_path: Path) -> None:
    from local.package import WHEELHOUSE, PackageError, install_lock

    pin, _ = _lock_line("six")
    lock = tmp_path / "unhashed.lock"
    lock.write_text(f"{pin}\n")
    with pytest.raises(PackageError, match=r"(?i)hash"):
        install_lock(lock, tmp_path / "target", WHEELHOUSE)
