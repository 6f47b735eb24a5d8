"""What each Lambda function's zip holds: the files of the one `chalice package` output that it may use.

The rule (docs/performance.md, "Per-function packages"), computed from the sources, never a list kept by hand:

1. **billow's code** (``app.py``, ``functions/``): every module ships in every zip (0.9 MiB; a module a
   function never loads costs nothing but bytes, and a missing one would fail at run time).
2. **Distributions of the lock** ship whole or not at all (inside a distribution, lazy loading by name —
   pydantic, stripe, botocore — defeats any reading of its imports). A distribution ships with a
   function when the function's code may import it (local/package_graph.py: module-level imports of
   every module it loads, and imports inside the functions it may run — a lazy import counts where the
   function holding it is reachable), and then so does every distribution that one names in an import
   line anywhere in its files or in its ``Requires-Dist`` (a regular-expression read: it over-counts,
   which only ever keeps more). Root entries that belong to no distribution (``chalice/``, Chalice's
   runtime) ship everywhere.
3. **Data files in functions/** (the invoice fonts): a file ``functions/<pkg>/<first>/…`` is named by a
   string ``"<first>"`` (or its own path below the package) in a module of that package; it ships with a
   function that may run a function using that string, directly or through a module-level constant
   (``FONTS = Path(__file__).with_name("fonts")``). A data file no module names fails the build.
4. **botocore's data** is cut, for every zip alike, to the services billow and the shipped libraries
   create clients for: ``client("…")``, ``resource("…")`` and ``create_client("…")`` with a literal
   name in our code and in the distributions shipped; plus botocore's own files at the top of its data
   (endpoints, partitions, retry and default configuration). boto3's resource data is cut the same way.
"""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from local.package_graph import CodeGraph, Reach

OURS = ("app.py", "functions")
# Sub-packages of shipped distributions that only type checkers read, left out of every zip when the
# build proves it (`typing_only_offenders`): no shipped module imports them outside `if TYPE_CHECKING:`,
# none reads them as an attribute of their package, and a string names them only in their package's
# own __init__ (stripe's lazy-attribute table: `stripe.params` would load on first use of that attribute,
# which nothing makes). stripe.params is the request parameters' TypedDicts: 2.1 MiB zipped.
TYPING_ONLY = ("stripe.params",)
API_HANDLER = "app.app"
BOTOCORE_DATA = "botocore/data"
BOTO3_DATA = "boto3/data"
_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import\b|import\s+([A-Za-z_][\w., ]*))", re.MULTILINE)
_CLIENT_CALL = re.compile(r"""\b(?:client|resource|create_client)\(\s*(?:service_name\s*=\s*)?['"]([a-z0-9-]+)['"]""")
_REQUIRES = re.compile(r"^Requires-Dist:\s*([A-Za-z0-9][A-Za-z0-9._-]*)([^\n]*)$", re.MULTILINE)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Distribution:
    name: str  # normalized
    roots: set[str] = field(default_factory=set)  # root entries of the tree: package dirs, modules, dist-info
    requires: set[str] = field(default_factory=set)


@dataclass
class Selection:
    """One function's zip: the files, and why what is left out is."""

    logical_id: str
    handler: str
    files: list[str]
    distributions: list[str]
    left_out: list[str]  # distributions and data directories


def distributions(tree: Path) -> tuple[dict[str, Distribution], dict[str, str]]:
    """The distributions installed in tree (from their RECORD files), and root entry -> distribution."""
    dists: dict[str, Distribution] = {}
    owner: dict[str, str] = {}
    for dist_info in sorted(tree.glob("*.dist-info")):
        name = normalize(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        dist = dists.setdefault(name, Distribution(name))
        for line in (dist_info / "RECORD").read_text().splitlines():
            parts = [p for p in line.rsplit(",", 2)[0].split("/") if p and p != ".."]
            if parts and parts[0] not in ("bin", "__pycache__"):
                dist.roots.add(parts[0])
        dist.roots.add(dist_info.name)
        for required, marker in _REQUIRES.findall((dist_info / "METADATA").read_text(errors="replace")):
            if "extra ==" not in marker.replace('extra=="', 'extra == "'):
                dist.requires.add(normalize(required))
        for root in dist.roots:
            owner[root] = name
    return dists, owner


def import_root(tree: Path, top: str) -> str | None:
    """The root entry of tree an import of the top-level name `top` loads, if any."""
    if (tree / top).is_dir():
        return top
    if (tree / f"{top}.py").is_file():
        return f"{top}.py"
    for ext in tree.glob(f"{top}.*.so"):
        return ext.name
    return None


class Selector:
    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.graph = CodeGraph(tree, OURS)
        self.dists, self.owner = distributions(tree)
        self._edges: dict[str, set[str]] = {}
        self._sources: dict[str, list[Path]] = {}

    def _dist_sources(self, name: str) -> list[Path]:
        if name not in self._sources:
            files: list[Path] = []
            for root in sorted(self.dists[name].roots):
                path = self.tree / root
                files += [path] if path.suffix == ".py" else sorted(path.rglob("*.py")) if path.is_dir() else []
            self._sources[name] = files
        return self._sources[name]

    def _dist_of(self, top: str) -> str | None:
        root = import_root(self.tree, top)
        return self.owner.get(root) if root else None

    def dist_edges(self, name: str) -> set[str]:
        """Distributions `name` may load: its import lines (any file, any depth) and Requires-Dist."""
        if name not in self._edges:
            out = {r for r in self.dists[name].requires if r in self.dists}
            for path in self._dist_sources(name):
                for found in _IMPORT_LINE.findall(path.read_text(errors="replace")):
                    for dotted in (found[0] or found[1]).split(","):
                        top = dotted.strip().split(" ")[0].split(".")[0]
                        dist = self._dist_of(top) if top else None
                        if dist and dist != name:
                            out.add(dist)
            self._edges[name] = out
        return self._edges[name]

    def needed_distributions(self, reach: Reach) -> set[str]:
        queue = [d for d in (self._dist_of(top) for top in reach.external) if d]
        needed: set[str] = set()
        while queue:
            name = queue.pop()
            if name not in needed:
                needed.add(name)
                queue.extend(self.dist_edges(name))
        return needed

    def data_files(self) -> dict[str, tuple[str, set[str]]]:
        """functions/ data file -> (package module, the strings that name it)."""
        out = {}
        for path in sorted((self.tree / "functions").rglob("*")):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(self.tree)
            for depth in range(len(rel.parts) - 1, 0, -1):
                package_dir = Path(*rel.parts[:depth])
                if (self.tree / package_dir / "__init__.py").is_file():
                    below = rel.relative_to(package_dir)
                    out[rel.as_posix()] = (".".join(package_dir.parts), {below.parts[0], below.as_posix()})
                    break
        return out

    def select(self, logical_id: str, handler: str) -> Selection:
        reach = self.graph.reach(handler, API_HANDLER)
        needed = self.needed_distributions(reach)
        used = self.graph.strings_used(reach)
        left_out_data = set()
        keep_data = set()
        for rel, (package, names) in self.data_files().items():
            namers = {m for m, s in self._namers(package, names)}
            if not namers:
                raise ValueError(f"{rel}: no module of {package} names it; the package cannot tell who reads it")
            if any((m, s) in used for m in namers for s in names):
                keep_data.add(rel)
            else:
                left_out_data.add(str(Path(rel).parent.as_posix()))
        dropped_roots = {root for name, dist in self.dists.items() if name not in needed for root in dist.roots}
        files = []
        for rel in _all_files(self.tree):
            root = rel.split("/")[0]
            if root == "__pycache__":  # bytecode of a top-level module: goes with the module
                root = rel.split("/")[1].split(".")[0] + ".py"
            if root in dropped_roots or (rel.startswith("functions/") and _is_data(rel) and rel not in keep_data):
                continue
            files.append(rel)
        return Selection(
            logical_id=logical_id,
            handler=handler,
            files=files,
            distributions=sorted(needed),
            left_out=sorted(set(self.dists) - needed) + sorted(left_out_data),
        )

    def _namers(self, package: str, names: set[str]) -> set[tuple[str, str]]:
        """The modules directly in `package` that hold one of `names` as a string."""
        out = set()
        for module_name, module in self.graph.modules.items():
            inside = module_name.startswith(f"{package}.") and "." not in module_name[len(package) + 1 :]
            if module_name == package or inside:
                bodies = [module.top, *module.functions.values()]
                if any(names & body.strings for body in bodies):
                    out |= {(module_name, s) for s in names}
        return out

    def services(self, selections: list[Selection]) -> set[str]:
        """Every AWS service a client is created for, in our code and in the distributions shipped."""
        found: set[str] = set()
        for module in self.graph.modules.values():
            for node in ast.walk(ast.parse(module.path.read_bytes())):
                if isinstance(node, ast.Call) and _call_name(node.func) in ("client", "resource", "create_client"):
                    args = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "service_name")]
                    found |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        for name in sorted({d for s in selections for d in s.distributions}):
            for path in self._dist_sources(name):
                found |= set(_CLIENT_CALL.findall(path.read_text(errors="replace")))
        return {s for s in found if (self.tree / BOTOCORE_DATA / s).is_dir()}


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _is_data(rel: str) -> bool:
    return not rel.endswith((".py", ".pyc"))


def _all_files(tree: Path) -> list[str]:
    return sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if test is not None and (
            (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
        ):
            for stmt in node.body:
                inside |= {id(sub) for sub in ast.walk(stmt)}
    return inside


def _offends(node: ast.AST, dotted: str, parent: str, last: str, relative_base: str) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == dotted or a.name.startswith(f"{dotted}.") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if node.level:
            module = ".".join(p for p in (relative_base, module) if p)
        names = {a.name for a in node.names}
        return module == dotted or module.startswith(f"{dotted}.") or (module == parent and last in names)
    if isinstance(node, ast.Attribute):
        return node.attr == last and _dotted_name(node.value) == parent
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and dotted in node.value


def typing_only_offenders(tree: Path, dotted: str) -> list[str]:
    """Where a shipped module may load `dotted` at run time (file:line); empty when nothing can."""
    parent, last = dotted.rsplit(".", 1)
    own_dir = tree / Path(*dotted.split("."))
    lazy_table = tree / Path(*parent.split(".")) / "__init__.py"
    could_import = (
        re.compile(rf"from\s+({re.escape(parent)}|\.+)\s+import\s*(\([^)]*|[^\n(]*)\b{last}\b"),
        re.compile(rf"from\s+\.+{last}\b"),
    )
    out = []
    for path in sorted(tree.rglob("*.py")):
        if own_dir in path.parents:
            continue
        text = path.read_text(errors="replace")
        if not (dotted in text or any(p.search(text) for p in could_import)):
            continue  # cannot name it: not worth parsing
        rel = path.relative_to(tree)
        package = rel.parent.parts
        parsed = ast.parse(text)
        skip = _type_checking_nodes(parsed)
        for node in ast.walk(parsed):
            if id(node) in skip or not _offends(node, dotted, parent, last, ".".join(package)):
                continue
            if isinstance(node, ast.Constant) and path == lazy_table:
                continue
            out.append(f"{rel.as_posix()}:{getattr(node, 'lineno', 0)}")
    return out


def _dotted_name(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def cut_typing_only(tree: Path, log: Callable[[str], object]) -> list[str]:
    """Remove each TYPING_ONLY sub-package the proof allows; returns the ones removed."""
    removed = []
    for dotted in TYPING_ONLY:
        directory = tree / Path(*dotted.split("."))
        if not directory.is_dir():
            continue
        offenders = typing_only_offenders(tree, dotted)
        if offenders:
            log(f"{dotted} kept: may be loaded at run time ({', '.join(offenders[:5])})")
            continue
        shutil.rmtree(directory)
        removed.append(dotted)
    return removed


def cut_aws_data(tree: Path, services: set[str]) -> list[str]:
    """Remove every service's data but `services` from botocore and boto3; returns what was removed."""
    removed = []
    for data in (BOTOCORE_DATA, BOTO3_DATA):
        for entry in sorted((tree / data).iterdir()):
            if entry.is_dir() and entry.name not in services:
                shutil.rmtree(entry)
                removed.append(f"{data}/{entry.name}")
    return removed
