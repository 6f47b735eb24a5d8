"""Build the Lambda zip that CDK deploys: `chalice package` plus precompiled, reproducible bytecode.

Usage: ``python -m local.package OUT_DIR`` (``make package`` uses ``build/package``). OUT_DIR receives
``deployment.zip`` and the ``sam.json`` chalice wrote next to it.

Steps, and why:

1. **Stage** a snapshot of what Chalice packages (``app.py``, ``.chalice/config.json``,
   ``chalicelib/`` if any, ``vendor/`` with its symlinks kept, and ``functions/``, the symlink's
   target) in a temporary project, leaving out ``__pycache__`` and ``*.pyc``. Chalice walks ``vendor/``
   and copies every file it finds, so running it on the work tree would ship whatever bytecode the
   tests left in ``functions/__pycache__``; it would also cache one ~26 MB zip per edit in the work
   tree's ``.chalice/deployments``, and it would race with whoever is editing ``functions/`` at the time.
2. **The locked dependencies** (DESIGN §9): ``requirements.lock`` (``make lock``: pip-compile with
   hashes) is downloaded into a wheelhouse (``build/wheels``) and installed from it into the staged
   ``vendor/``, both with ``--require-hashes --no-deps --only-binary=:all: --platform
   manylinux2014_x86_64 --python-version 3.11`` (Lambda's python3.11 runs on Amazon Linux 2, glibc
   2.26: manylinux2014 wheels, never newer). A file whose hash is not in the lock fails the build.
   Chalice is given an EMPTY requirements.txt: its own resolution re-downloads any wheel it judges
   unfit for Lambda without checking a hash. The first build on a machine downloads the wheels from
   PyPI; later ones find them in the wheelhouse (pip still reads the index pages).
3. **chalice package --stage prod** in that staged project, with a neutral AWS environment (region
   us-east-1, no profile, no config or credentials files: packaging never calls AWS). Chalice picks
   the Lambda runtime from the interpreter running it, so this module must run under the runtime's
   Python (3.11 for billow); the build fails if ``sam.json`` names another runtime, because the
   bytecode compiled below would then be ignored by Lambda.
4. **Check the vendor symlink was followed**: Chalice 1.x walks ``vendor/`` with
   ``followlinks=True``, so ``vendor/functions -> ../functions`` puts ``functions/`` at the zip's root.
   Every ``functions/**/*.py`` of the snapshot must be in the zip, byte for byte; should a Chalice
   version stop following symlinks, the build copies ``functions/`` in itself and says so, rather
   than shipping an app that cannot import. Nothing from ``local/``, ``tests/``, ``bench/`` or
   ``infra/`` may be in the zip (the build fails if it is).
5. **Bytecode**: extract, delete any ``__pycache__``/``.pyc``/``.pyo`` that came in, then run
   ``python -m compileall -q --invalidation-mode unchecked-hash`` over the whole tree (our code and
   the dependencies). Lambda's ``/var/task`` is read-only, so without shipped bytecode every cold
   start compiles every imported module and cannot cache the result; timestamp-based pycs would be
   rejected too, since the zip's fixed timestamps are not the ones recorded at compile time. An
   unchecked hash-based pyc is used as is, without even reading the source. Paths inside the code
   objects are rewritten to ``/var/task/...`` (``-s``/``-p``) and ``PYTHONHASHSEED=0`` keeps
   frozenset constants in a stable order, so the bytecode does not depend on the build directory
   or the run.
6. **Re-zip deterministically**: entries sorted by name, every timestamp 1980-01-01 00:00:00, mode
   0644, deflate level 9, no directory entries. The same sources, lock and Python give a
   byte-identical zip (its sha256 is printed). The lock it was built from is copied next to it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = "prod"
LAMBDA_TASK_ROOT = "/var/task"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
# What Chalice reads from a project: the app, its requirements and config, chalicelib/ and vendor/,
# plus functions/, which vendor/functions links to.
STAGED_FILES = ("app.py", ".chalice/config.json")
LOCK = "requirements.lock"
WHEELHOUSE = ROOT / "build" / "wheels"
PLATFORM = "manylinux2014_x86_64"  # Amazon Linux 2 (glibc 2.26), where Lambda's python3.11 runs
STAGED_DIRS = ("chalicelib", "vendor", "functions")
FORBIDDEN_TOP_LEVEL = ("local", "tests", "bench", "infra")
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--


class PackageError(RuntimeError):
    """The package could not be built, or would not be what Lambda should run."""


@dataclass(frozen=True)
class PackageInfo:
    zip_path: Path
    sam_path: Path
    size: int
    entries: int
    sources: int
    bytecode: int
    sha256: str
    seconds: float


def _ignore_bytecode(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name == "__pycache__" or name.endswith((".pyc", ".pyo"))}


def stage_project(project: Path, stage_dir: Path) -> None:
    """Copy what Chalice packages into stage_dir, without bytecode; symlinks stay symlinks."""
    for name in STAGED_FILES:
        source = project / name
        if not source.is_file():
            raise PackageError(f"{source} is missing")
        target = stage_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    for name in STAGED_DIRS:
        source = project / name
        if source.is_dir():
            shutil.copytree(source, stage_dir / name, symlinks=True, ignore=_ignore_bytecode)
    # Chalice resolves requirements.txt itself, unchecked: it gets none (the lock is installed in vendor/).
    (stage_dir / "requirements.txt").write_text("")
    for link in (stage_dir / "vendor").rglob("*"):
        if link.is_symlink() and not link.exists():
            raise PackageError(f"vendor/{link.relative_to(stage_dir / 'vendor')} points outside the staged project")


def _pip_platform_args(lock: Path) -> list[str]:
    return [
        "--require-hashes",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        PLATFORM,
        "--python-version",
        f"{sys.version_info.major}.{sys.version_info.minor}",
        "--implementation",
        "cp",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(lock),
    ]


def download_lock(lock: Path, wheelhouse: Path) -> None:
    """Every wheel of the lock, for Lambda's platform, into the wheelhouse (hash-checked)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheelhouse), *_pip_platform_args(lock)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageError(f"pip download of {lock.name} failed:\n{result.stdout}{result.stderr}")


def install_lock(lock: Path, target: Path, wheelhouse: Path) -> None:
    """Install the lock into target from the wheelhouse only (no index): --require-hashes, --no-deps,
    Lambda's platform. Console scripts (target/bin) are not shipped."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",  # bytecode is compiled once, below, for the whole tree
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "--target",
        str(target),
        *_pip_platform_args(lock),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_CONSTRAINT")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise PackageError(f"pip install of {lock.name} failed:\n{result.stdout}{result.stderr}")
    shutil.rmtree(target / "bin", ignore_errors=True)


def _neutral_aws_env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        }
    )
    return env


def run_chalice_package(stage_dir: Path, out_dir: Path, scratch: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; from chalice.cli import main; sys.exit(main())",
        "package",
        "--stage",
        STAGE,
        str(out_dir),
    ]
    result = subprocess.run(
        command, cwd=stage_dir, env=_neutral_aws_env(scratch), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PackageError(f"chalice package failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def lambda_runtimes(sam_path: Path) -> set[str]:
    template = json.loads(sam_path.read_text())
    return {
        resource["Properties"]["Runtime"]
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::Serverless::Function" and "Runtime" in resource.get("Properties", {})
    }


def _files(tree: Path) -> list[str]:
    """Every regular file under tree, as sorted posix paths relative to it."""
    return sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())


def strip_bytecode(tree: Path) -> int:
    removed = 0
    for cache in sorted(tree.rglob("__pycache__"), reverse=True):
        if cache.is_dir():
            removed += sum(1 for p in cache.rglob("*") if p.is_file())
            shutil.rmtree(cache)
    for pattern in ("*.pyc", "*.pyo"):
        for stray in tree.rglob(pattern):
            stray.unlink()
            removed += 1
    return removed


def check_functions(tree: Path, stage_dir: Path, log: Callable[[str], object]) -> None:
    """functions/ must be at the zip's root, identical to the snapshot; copy it in if Chalice did not."""
    source = stage_dir / "functions"
    expected = _files(source)
    shipped = tree / "functions"
    missing = [rel for rel in expected if not (shipped / rel).is_file()]
    if missing:
        log(f"chalice did not follow vendor/functions ({len(missing)} files missing): copying functions/ in")
        shutil.copytree(source, shipped, dirs_exist_ok=True, ignore=_ignore_bytecode)
    differ = [rel for rel in expected if (shipped / rel).read_bytes() != (source / rel).read_bytes()]
    if differ:
        raise PackageError(f"functions/ in the zip differs from the sources: {differ[:5]}")
    if not (tree / "app.py").is_file():
        raise PackageError("app.py is not at the zip's root")
    leaked = [name for name in FORBIDDEN_TOP_LEVEL if (tree / name).exists()]
    if leaked:
        raise PackageError(f"never shipped to Lambda, yet in the zip: {leaked}")


def compile_tree(tree: Path) -> None:
    command = [
        sys.executable,
        "-I",
        "-m",
        "compileall",
        "-q",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(tree),
        "-p",
        LAMBDA_TASK_ROOT,
        str(tree),
    ]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageError(f"compileall failed:\n{result.stdout}{result.stderr}")
    tag = sys.implementation.cache_tag
    uncompiled = [
        rel
        for rel in _files(tree)
        if rel.endswith(".py")
        and not (tree / rel).parent.joinpath("__pycache__", f"{Path(rel).stem}.{tag}.pyc").is_file()
    ]
    if uncompiled:
        raise PackageError(f"sources left without bytecode: {uncompiled[:5]}")


def write_zip(tree: Path, zip_path: Path) -> int:
    """Zip tree into zip_path: sorted names, fixed dates and modes; returns the entry count."""
    names = _files(tree)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (tree / name).read_bytes(), compresslevel=9)
    return len(names)


def build_package(
    out_dir: Path, project: Path = ROOT, log: Callable[[str], object] = print, wheelhouse: Path = WHEELHOUSE
) -> PackageInfo:
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = project / LOCK
    if not lock.is_file():
        raise PackageError(f"{lock} is missing: run `make lock`")
    with tempfile.TemporaryDirectory(prefix="billow-package-") as scratch_name:
        scratch = Path(scratch_name)
        stage_dir, chalice_out, tree = scratch / "project", scratch / "chalice-out", scratch / "tree"
        stage_dir.mkdir()
        stage_project(project, stage_dir)
        log(f"{LOCK}: pip install --require-hashes --platform {PLATFORM} into vendor/ …")
        download_lock(lock, wheelhouse)
        install_lock(lock, stage_dir / "vendor", wheelhouse)
        log(f"chalice package --stage {STAGE} ({RUNTIME}) …")
        run_chalice_package(stage_dir, chalice_out, scratch)
        sam_path = chalice_out / "sam.json"
        runtimes = lambda_runtimes(sam_path)
        if runtimes != {RUNTIME}:
            raise PackageError(f"sam.json runtimes {sorted(runtimes)}; this build compiles for {RUNTIME}")
        with zipfile.ZipFile(chalice_out / "deployment.zip") as archive:
            archive.extractall(tree)
        removed = strip_bytecode(tree)
        if removed:
            log(f"removed {removed} bytecode files that came with the sources")
        check_functions(tree, stage_dir, log)
        compile_tree(tree)
        # Write next to the final path, then rename: a reader never sees a half-written zip.
        partial_zip = out_dir / ".deployment.zip.partial"
        entries = write_zip(tree, partial_zip)
        partial_sam = out_dir / ".sam.json.partial"
        shutil.copyfile(sam_path, partial_sam)
        zip_path, final_sam = out_dir / "deployment.zip", out_dir / "sam.json"
        os.replace(partial_zip, zip_path)
        os.replace(partial_sam, final_sam)
        shutil.copyfile(lock, out_dir / LOCK)  # what this zip was built from (tests/infra compare it)
        files = _files(tree)
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    return PackageInfo(
        zip_path=zip_path,
        sam_path=final_sam,
        size=zip_path.stat().st_size,
        entries=entries,
        sources=sum(1 for f in files if f.endswith(".py")),
        bytecode=sum(1 for f in files if f.endswith(".pyc")),
        sha256=digest,
        seconds=time.monotonic() - started,
    )


def source_state(project: Path = ROOT) -> str:
    """The commit the sources are at, and whether what is packaged differs from it (uncommitted edits)."""
    paths = [*STAGED_FILES, *STAGED_DIRS]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=project, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *paths], cwd=project, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {commit}" + (
        f" + {len(dirty.splitlines())} uncommitted changes in the packaged sources" if dirty else ""
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.package", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="where deployment.zip and sam.json go (e.g. build/package)")
    args = parser.parse_args(argv)
    try:
        info = build_package(args.out_dir.resolve())
    except PackageError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    print(f"{info.zip_path}: {info.size:,} bytes ({info.size / 2**20:.1f} MiB), {info.entries} entries")
    print(f"  {info.sources} .py, {info.bytecode} .pyc (unchecked-hash, {sys.implementation.cache_tag})")
    print(f"  sha256 {info.sha256}")
    print(f"  {info.sam_path} (runtime {RUNTIME}); built in {info.seconds:.1f} s")
    print(f"  sources: {source_state()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
