"""Build the Lambda zip that CDK deploys: `chalice package` plus precompiled, reproducible bytecode.

Usage: ``python -m local.package [--if-stale] OUT_DIR`` (``make package`` uses ``build/package``).

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
6. **One zip per function** of ``sam.json`` (local/package_select.py says what each holds: every
   distribution its code may import, billow's code, the data files it may read; botocore's data cut
   to the services billow calls), written deterministically (local/package_zip.py: entries sorted by
   name, every timestamp 1980-01-01 00:00:00, mode 0644, deflate level 9, no directory entries; each
   file compressed once). OUT_DIR receives ``<LogicalId>.zip`` per function, ``sam.json`` with each
   ``CodeUri`` pointing at its zip, ``manifest.json`` (function -> zip, size, sha256, what it leaves
   out; the fingerprint of the sources) and the lock it was built from. The same sources, lock and
   Python give byte-identical zips. ``--if-stale`` does nothing when the manifest's fingerprint is the
   sources' (``make test`` builds this way before pytest).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.package_select import Selector, cut_aws_data, cut_typing_only
from local.package_zip import FIXED_DATE, Compressed, write_zip

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
MANIFEST = "manifest.json"
SAM_FUNCTION = "AWS::Serverless::Function"
__all__ = ["FIXED_DATE", "PackageError", "build_package", "is_current", "read_manifest", "source_fingerprint"]


class PackageError(RuntimeError):
    """The package could not be built, or would not be what Lambda should run."""


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


def wheelhouse_has(lock: Path, wheelhouse: Path) -> bool:
    """Whether the wheelhouse already holds, for every pin of the lock, a wheel whose sha256 the lock
    lists (then `pip download`, which reads PyPI's index pages, is skipped; the install checks again)."""
    from local.lock import PIN, normalize

    wheels: dict[str, list[Path]] = {}
    for wheel in wheelhouse.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        wheels.setdefault(f"{normalize(name)}=={version}", []).append(wheel)
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()):
        match = PIN.match(block.strip())
        if not match:
            continue
        hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
        found = wheels.get(f"{normalize(match.group(1))}=={match.group(3)}", [])
        if not any(hashlib.sha256(w.read_bytes()).hexdigest() in hashes for w in found):
            return False
    return True


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
        "-j",
        "0",  # every CPU; the bytecode does not depend on it
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


@dataclass(frozen=True)
class FunctionZip:
    logical_id: str
    handler: str
    zip_path: Path
    size: int
    entries: int
    sha256: str
    left_out: tuple[str, ...]


@dataclass(frozen=True)
class PackageInfo:
    out_dir: Path
    sam_path: Path
    manifest_path: Path
    functions: tuple[FunctionZip, ...]
    services: tuple[str, ...]
    typing_only: tuple[str, ...]
    sources: int
    bytecode: int
    seconds: float


def function_handlers(sam: dict[str, Any]) -> dict[str, str]:
    """logical id -> Handler, for every Lambda function of sam.json."""
    return {
        logical_id: str(resource["Properties"]["Handler"])
        for logical_id, resource in sorted(sam.get("Resources", {}).items())
        if resource.get("Type") == SAM_FUNCTION
    }


def split_tree(
    tree: Path, sam: dict[str, Any], out_dir: Path, log: Callable[[str], object]
) -> tuple[PackageInfo, dict[str, Any]]:
    """One zip per function of sam.json from the compiled tree (local/package_select.py decides what
    each holds), the sam.json pointing each function at its zip, and manifest.json."""
    selector = Selector(tree)
    handlers = function_handlers(sam)
    first = [selector.select(logical_id, handler) for logical_id, handler in handlers.items()]
    services = selector.services(first)
    cut_aws_data(tree, services)
    log(f"botocore data cut to {len(services)} services: {', '.join(sorted(services))}")
    typing_only = cut_typing_only(tree, log)
    if typing_only:
        log(f"typing-only sub-packages left out of every zip: {', '.join(typing_only)}")
    selections = [selector.select(logical_id, handler) for logical_id, handler in handlers.items()]
    compressed = Compressed(tree)
    compressed.prepare(sorted({f for s in selections for f in s.files}))
    zips = []
    for selection in selections:
        name = f"{selection.logical_id}.zip"
        partial = out_dir / f".{name}.partial"
        entries = write_zip(compressed, selection.files, partial)
        os.replace(partial, out_dir / name)
        digest = hashlib.sha256((out_dir / name).read_bytes()).hexdigest()
        size = (out_dir / name).stat().st_size
        zips.append(
            FunctionZip(
                selection.logical_id,
                selection.handler,
                out_dir / name,
                size,
                entries,
                digest,
                tuple(selection.left_out),
            )
        )
    for stale in out_dir.glob("*.zip"):  # deployment.zip of the one-zip days, zips of functions now gone
        if stale.name not in {z.zip_path.name for z in zips}:
            stale.unlink()
    template = json.loads(json.dumps(sam))
    for logical_id in handlers:
        template["Resources"][logical_id]["Properties"]["CodeUri"] = f"./{logical_id}.zip"
    files = _files(tree)
    return PackageInfo(
        out_dir=out_dir,
        sam_path=out_dir / "sam.json",
        manifest_path=out_dir / MANIFEST,
        functions=tuple(zips),
        services=tuple(sorted(services)),
        typing_only=tuple(typing_only),
        sources=sum(1 for f in files if f.endswith(".py")),
        bytecode=sum(1 for f in files if f.endswith(".pyc")),
        seconds=0.0,
    ), template


def write_manifest(info: PackageInfo, fingerprint: str) -> None:
    manifest = {
        "runtime": RUNTIME,
        "fingerprint": fingerprint,
        "botocore_services": list(info.services),
        "typing_only_left_out": list(info.typing_only),
        "functions": {
            z.logical_id: {
                "handler": z.handler,
                "zip": z.zip_path.name,
                "size": z.size,
                "entries": z.entries,
                "sha256": z.sha256,
                "left_out": list(z.left_out),
            }
            for z in info.functions
        },
    }
    partial = info.out_dir / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.replace(partial, info.manifest_path)


def build_package(
    out_dir: Path, project: Path = ROOT, log: Callable[[str], object] = print, wheelhouse: Path = WHEELHOUSE
) -> PackageInfo:
    started = time.monotonic()
    plain_log = log

    def log(message: str) -> object:  # every step with the seconds since the build started
        return plain_log(f"[{time.monotonic() - started:5.1f} s] {message}")

    out_dir.mkdir(parents=True, exist_ok=True)
    lock = project / LOCK
    if not lock.is_file():
        raise PackageError(f"{lock} is missing: run `make lock`")
    fingerprint = source_fingerprint(project)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # a build that fails leaves no manifest claiming to be current
    with tempfile.TemporaryDirectory(prefix="billow-package-") as scratch_name:
        scratch = Path(scratch_name)
        stage_dir, chalice_out, tree = scratch / "project", scratch / "chalice-out", scratch / "tree"
        stage_dir.mkdir()
        stage_project(project, stage_dir)
        log(f"{LOCK}: pip install --require-hashes --platform {PLATFORM} into vendor/ …")
        if not wheelhouse_has(lock, wheelhouse):
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
        log("compileall (unchecked-hash) …")
        compile_tree(tree)
        log("one zip per function …")
        try:
            info, template = split_tree(tree, json.loads(sam_path.read_text()), out_dir, log)
        except (KeyError, ValueError) as exc:
            raise PackageError(f"cannot tell what a function needs: {exc}") from exc
        partial_sam = out_dir / ".sam.json.partial"
        partial_sam.write_text(json.dumps(template, indent=2) + "\n")
        os.replace(partial_sam, out_dir / "sam.json")
        shutil.copyfile(lock, out_dir / LOCK)  # what the zips were built from
    info = dataclasses.replace(info, seconds=time.monotonic() - started)
    write_manifest(info, fingerprint)  # last: its presence says the whole package is there
    return info


def _hash_tree(digest: Any, root: Path, rel: str) -> None:
    top = root / rel
    if top.is_file():
        digest.update(f"F {rel}\0".encode() + top.read_bytes())
        return
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted([*filenames, *(d for d in dirnames if Path(dirpath, d).is_symlink())]):
            path = Path(dirpath) / name
            key = path.relative_to(root).as_posix()
            if path.is_symlink():
                digest.update(f"L {key} {os.readlink(path)}\0".encode())
            elif not name.endswith((".pyc", ".pyo")):
                digest.update(f"F {key}\0".encode() + path.read_bytes())


def source_fingerprint(project: Path = ROOT) -> str:
    """sha256 of everything the package is made from: the sources Chalice packages, the lock, this
    builder (local/package*.py) and the interpreter's version. Equal fingerprints, equal zips."""
    digest = hashlib.sha256(f"{sys.version}\0".encode())
    for rel in (*STAGED_FILES, LOCK, *STAGED_DIRS):
        if (project / rel).exists():
            _hash_tree(digest, project, rel)
    for builder in sorted((project / "local").glob("package*.py")):
        _hash_tree(digest, project, builder.relative_to(project).as_posix())
    return digest.hexdigest()


def is_current(out_dir: Path, project: Path = ROOT) -> bool:
    """Whether out_dir holds a complete package built from the sources as they are now."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    zips_there = all((out_dir / f["zip"]).is_file() for f in manifest.get("functions", {}).values())
    return (
        zips_there and (out_dir / "sam.json").is_file() and manifest.get("fingerprint") == source_fingerprint(project)
    )


def read_manifest(out_dir: Path) -> dict[str, Any]:
    return dict(json.loads((out_dir / MANIFEST).read_text()))


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


def describe(info: PackageInfo) -> list[str]:
    lines = [f"{info.out_dir}: one zip per function (sam.json, {MANIFEST}); built in {info.seconds:.1f} s"]
    for z in info.functions:
        size = f"{z.size / 2**20:6.1f} MiB"
        lines.append(
            f"  {z.logical_id:<18} {z.zip_path.name:<22} {size}  {z.entries:>5} entries  sha256 {z.sha256[:16]}"
        )
        if z.left_out:
            lines.append(f"  {'':<18} left out: {', '.join(z.left_out)}")
    tag = sys.implementation.cache_tag
    lines.append(f"  {info.sources} .py, {info.bytecode} .pyc (unchecked-hash, {tag}); runtime {RUNTIME}")
    lines.append(f"  botocore data: {', '.join(info.services)}")
    lines.append(f"  sources: {source_state()}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.package", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="where the zips, sam.json and manifest.json go (build/package)")
    parser.add_argument("--if-stale", action="store_true", help="do nothing when out_dir is current (fingerprint)")
    args = parser.parse_args(argv)
    out_dir = args.out_dir.resolve()
    if args.if_stale and is_current(out_dir):
        print(f"{out_dir}: up to date with the sources and the lock (fingerprint in {MANIFEST}); not rebuilt")
        return 0
    try:
        info = build_package(out_dir)
    except PackageError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    print("\n".join(describe(info)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
