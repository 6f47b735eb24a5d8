"""Parts of shipped distributions that nothing loads at run time, left out of every zip only when the build
proves it on the compiled tree (docs/performance.md, "Never-loaded parts").

Each entry of NEVER_LOADED names a package (a sub-package, or a top-level one) and a proof: a function of
the tree that returns where it *may* be loaded (file:line, or a binary and the string in it). Empty: the
build removes it. Not empty: the build keeps it and says why — a future release that starts loading it
breaks the proof, never the zip. The entries are checked in order, on the tree as the previous ones left
it (pycparser is only imported by cffi: its proof runs once cffi is gone).
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from local.package_select import _type_checking_nodes, typing_only_offenders

# pydantic.v1 may be loaded only at these two places (the locked pydantic's lines: another release moves
# them, and the proof then keeps pydantic.v1 until they are read again), each proved idle below:
# - _generate_schema.py imports it when a type defines `__get_validators__` (a v1-style custom type);
# - _migration.py's getattr hook redirects moved v1 names (`from pydantic.utils import deep_update`).
PYDANTIC_V1_SITES = ("pydantic/_internal/_generate_schema.py:1073", "pydantic/_migration.py:35")
# _cffi_backend (cffi's C half, a top-level module that stays: cryptography's Rust extension loads it)
# holds "cffi" as the name of the capsule it exports (`_C_API`) and "cffi.thread.canary", a type it
# defines; neither imports the cffi Python package. Its other mentions are its error messages (text).
CFFI_BACKEND_NAMES = frozenset({"cffi", "cffi.thread.canary"})


@dataclass(frozen=True)
class NeverLoaded:
    dotted: str
    what: str
    proof: Callable[[Path], list[str]]  # where it may be loaded; empty when nothing can


def _word(name: str) -> re.Pattern[bytes]:
    return re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(name.encode()) + rb"(?![A-Za-z0-9_])")


def binary_mentions(tree: Path, name: str, allowed: Callable[[Path, bytes], bool]) -> list[str]:
    """Every shipped extension module outside `name` whose bytes name the module `name` as a whole word
    (NUL-separated strings; Rust's unseparated string data is matched as a whole too), unless allowed."""
    word = _word(name)
    out = []
    for path in sorted(tree.rglob("*.so")):
        if tree / name in path.parents:
            continue
        for segment in path.read_bytes().split(b"\0"):
            if word.search(segment) and not allowed(path, segment):
                out.append(f"{path.relative_to(tree).as_posix()}: {segment[:60]!r}")
    return out


def top_level_offenders(tree: Path, name: str, allowed: Callable[[Path, bytes], bool]) -> list[str]:
    """Where the top-level package `name` may be loaded: an import of it, or a string naming it (loading by
    name), in any shipped .py outside it (outside `if TYPE_CHECKING:`), or a shipped binary naming it."""
    out = []
    word = _word(name)
    for path in sorted(tree.rglob("*.py")):
        if tree / name in path.parents:
            continue
        text = path.read_bytes()
        if not word.search(text):
            continue
        parsed = ast.parse(text)
        skip = _type_checking_nodes(parsed)
        for node in ast.walk(parsed):
            if id(node) not in skip and _loads(node, name):
                out.append(f"{path.relative_to(tree).as_posix()}:{getattr(node, 'lineno', 0)}")
    return out + binary_mentions(tree, name, allowed)


def _loads(node: ast.AST, name: str) -> bool:
    def names(dotted: str) -> bool:
        return dotted == name or dotted.startswith(f"{name}.")

    if isinstance(node, ast.Import):
        return any(names(a.name) for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return not node.level and names(node.module or "")
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and names(node.value)


def pydantic_v1_offenders(tree: Path) -> list[str]:
    """pydantic.v1 is loaded only at PYDANTIC_V1_SITES, no shipped module outside pydantic defines
    `__get_validators__`, and none imports a module the migration hook redirects to v1."""
    out = [o for o in typing_only_offenders(tree, "pydantic.v1") if o not in PYDANTIC_V1_SITES]
    migration = tree / "pydantic" / "_migration.py"
    redirected = set(re.findall(r"f?'(pydantic\.[\w.]+):[^']*': f?'pydantic\.v1", migration.read_text()))
    if not redirected:
        out.append("pydantic/_migration.py: its REDIRECT_TO_V1 table is not where the proof reads it")
    for path in sorted(tree.rglob("*.py")):
        if tree / "pydantic" in path.parents:
            continue
        text = path.read_text(errors="replace")
        if "__get_validators__" not in text and not any(m in text for m in redirected):
            continue
        for node in ast.walk(ast.parse(text)):
            defines = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "__get_validators__"
            assigns = isinstance(node, ast.Name) and node.id == "__get_validators__"
            imports = isinstance(node, ast.ImportFrom) and (node.module or "") in redirected
            imports |= isinstance(node, ast.Import) and any(a.name in redirected for a in node.names)
            if defines or assigns or imports:
                out.append(f"{path.relative_to(tree).as_posix()}:{node.lineno}")
    return out


def _cffi_backend_text(path: Path, segment: bytes) -> bool:
    own_names = {n.encode() for n in CFFI_BACKEND_NAMES}
    return path.name.startswith("_cffi_backend.") and (segment in own_names or b" " in segment)


NEVER_LOADED = (
    NeverLoaded(
        "stripe.params",
        "stripe's request parameters as TypedDicts, for type checkers (2.1 MiB zipped)",
        lambda tree: typing_only_offenders(tree, "stripe.params"),
    ),
    NeverLoaded("pydantic.v1", "pydantic 1.x, bundled for migrations (0.37 MiB zipped)", pydantic_v1_offenders),
    NeverLoaded(
        "cffi",
        "cffi's Python half: builds bindings at compile time (cryptography's Rust extension needs _cffi_backend only)",
        lambda tree: top_level_offenders(tree, "cffi", _cffi_backend_text),
    ),
    NeverLoaded(
        "pycparser",
        "the C parser cffi uses for cdef() at compile time",
        lambda tree: top_level_offenders(tree, "pycparser", lambda path, segment: False),
    ),
)


def cut_never_loaded(tree: Path, log: Callable[[str], object]) -> list[str]:
    """Remove each NEVER_LOADED package its proof allows, in order; returns the ones removed."""
    removed = []
    for entry in NEVER_LOADED:
        directory = tree / Path(*entry.dotted.split("."))
        if not directory.is_dir():
            continue
        offenders = entry.proof(tree)
        if offenders:
            log(f"{entry.dotted} kept: may be loaded at run time ({', '.join(offenders[:5])})")
            continue
        shutil.rmtree(directory)
        removed.append(entry.dotted)
    return removed
