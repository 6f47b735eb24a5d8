"""What billow's own code runs and loads, function by function, read from its source (the AST).

Used by local/package_select.py to decide what each Lambda function's zip needs. Two levels:

- **modules**: every import statement of a module's top level runs when the module is imported; a
  string constant naming a module of ``functions/`` (``"functions.invoices.routes"``) counts as an
  import too, so loading a module by name (``importlib``) is followed. ``if TYPE_CHECKING:`` blocks
  never run and are skipped.
- **functions**: an import inside a function body (a lazy import) runs only when that function runs.
  A function is reached from the handler's entry points through the names its body uses: a name
  defined or imported in its module, ``module.name`` for a module it imported, and, for any other
  ``something.name``, every method called ``name`` (we cannot know ``something``'s type, so all of
  them). Nested functions belong to the function around them. A class reached makes its dunder and
  decorated methods reached (Python and pydantic call them without naming them).

The handler's entry points: a worker's handler function (sam.json ``Handler``); for the API
(``app.app``), every decorated function of every module it loads (a route), except the ones
registered as another function's event handler (``on_sqs_message``, ``schedule``, …) and the ones
whose decorators only wrap (``lru_cache``, ``property``, …). Module-level code of every loaded module
runs, so what it names is reached too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Decorators that register a function as the handler of another Lambda function (Chalice).
EVENT_DECORATORS = frozenset(
    {
        "on_sqs_message",
        "schedule",
        "lambda_function",
        "on_dynamodb_record",
        "on_sns_message",
        "on_s3_event",
        "on_cw_event",
        "on_kinesis_record",
        "on_ws_connect",
        "on_ws_message",
        "on_ws_disconnect",
    }
)
# Decorators that only wrap a function: being decorated by them does not make it an entry point.
WRAPPING_DECORATORS = frozenset(
    {
        "lru_cache",
        "cache",
        "cached_property",
        "wraps",
        "contextmanager",
        "staticmethod",
        "classmethod",
        "property",
        "overload",
        "abstractmethod",
        "singledispatch",
        "dataclass",
        "total_ordering",
    }
)


def _decorator_name(node: ast.expr) -> str:
    while isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@dataclass
class Body:
    """One unit of code: a module's top level or one function (with the functions nested in it)."""

    imports: set[str] = field(default_factory=set)  # absolute dotted names (third-party or ours)
    names: set[str] = field(default_factory=set)  # bare names used
    attributes: set[tuple[str, str]] = field(default_factory=set)  # (dotted base, attr); base "" if unknown
    strings: set[str] = field(default_factory=set)


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    top: Body = field(default_factory=Body)
    functions: dict[str, Body] = field(default_factory=dict)  # "f" or "Class.method"
    classes: dict[str, list[str]] = field(default_factory=dict)  # class -> implicit methods (dunder, decorated)
    decorated: dict[str, set[str]] = field(default_factory=dict)  # top-level function -> decorator names
    bindings: dict[str, str] = field(default_factory=dict)  # local name -> dotted name it was imported as
    constants: dict[str, set[str]] = field(default_factory=dict)  # module-level NAME -> strings in its value


class _Collector(ast.NodeVisitor):
    def __init__(self, module: Module, body: Body) -> None:
        self.module, self.body = module, body

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.module.name.split(".")
        base = parts if self.module.is_package else parts[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.body.imports.add(alias.name)
            if self.body is self.module.top:
                self.module.bindings[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node)
        for alias in node.names:
            self.body.imports.add(f"{base}.{alias.name}" if alias.name != "*" else base)
            if self.body is self.module.top:
                self.module.bindings[alias.asname or alias.name] = f"{base}.{alias.name}"

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self.body.names.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.body.attributes.add((_dotted(node.value), node.attr))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.body.strings.add(node.value)


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def _visit_function(module: Module, key: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    body = module.functions.setdefault(key, Body())
    collector = _Collector(module, body)
    for stmt in node.body:
        collector.visit(stmt)
    for arg_default in [*node.args.defaults, *node.args.kw_defaults]:
        if arg_default is not None:
            _Collector(module, module.top).visit(arg_default)
    for decorator in node.decorator_list:
        _Collector(module, module.top).visit(decorator)


def parse_module(name: str, path: Path) -> Module:
    module = Module(name=name, path=path, is_package=path.name == "__init__.py")
    tree = ast.parse(path.read_bytes(), filename=str(path))
    top = _Collector(module, module.top)
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _visit_function(module, stmt.name, stmt)
            module.decorated[stmt.name] = {_decorator_name(d) for d in stmt.decorator_list}
        elif isinstance(stmt, ast.ClassDef):
            implicit = []
            for item in stmt.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    _visit_function(module, f"{stmt.name}.{item.name}", item)
                    if item.name.startswith("__") or item.decorator_list:
                        implicit.append(item.name)
                else:
                    top.visit(item)
            module.classes[stmt.name] = implicit
            for expr in [*stmt.bases, *stmt.keywords, *stmt.decorator_list]:
                top.visit(expr)
        else:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                strings = {
                    n.value for n in ast.walk(stmt.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                }
                for target in targets:
                    if isinstance(target, ast.Name):
                        module.constants[target.id] = strings
            top.visit(stmt)
    return module


class CodeGraph:
    """billow's own modules (app.py and functions/) in an unpacked package tree."""

    def __init__(self, tree: Path, top_level: Iterable[str] = ("app.py", "functions")) -> None:
        self.tree = tree
        self.modules: dict[str, Module] = {}
        for entry in top_level:
            path = tree / entry
            files = [path] if path.is_file() else sorted(path.rglob("*.py"))
            for file in files:
                rel = file.relative_to(tree).with_suffix("")
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                self.modules[".".join(parts)] = parse_module(".".join(parts), file)
        self._methods: dict[str, set[tuple[str, str]]] = {}
        for module in self.modules.values():
            for key in module.functions:
                if "." in key:
                    self._methods.setdefault(key.rsplit(".", 1)[1], set()).add((module.name, key))

    def module_of(self, dotted: str) -> str | None:
        """The longest prefix of `dotted` that is one of our modules."""
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules:
                return candidate
        return None

    def entry_points(self, handler: str, api_handler: str) -> tuple[set[str], set[tuple[str, str]]]:
        """(modules imported first, functions run first) for a sam.json Handler string."""
        if handler == api_handler:
            return {handler.rsplit(".", 1)[0]}, set()
        module, function = handler.rsplit(".", 1)
        if module not in self.modules or function not in self.modules[module].functions:
            raise KeyError(f"handler {handler}: no such function in the sources")
        return {module}, {(module, function)}

    def reach(self, handler: str, api_handler: str) -> Reach:
        modules, functions = self.entry_points(handler, api_handler)
        reach = Reach()
        module_queue, function_queue = list(modules), list(functions)
        reach.via.update(dict.fromkeys(functions))
        while module_queue or function_queue:
            while module_queue:
                name = module_queue.pop()
                for parent in _parents(name):
                    if parent in self.modules and parent not in reach.modules:
                        reach.modules.add(parent)
                        module = self.modules[parent]
                        reach.current = None
                        self._follow(module, module.top, reach, module_queue, function_queue)
                        if handler == api_handler:
                            function_queue.extend((parent, f) for f in self._routes(module))
            while function_queue:
                key = function_queue.pop()
                if key in reach.functions:
                    continue
                reach.functions.add(key)
                reach.current = key
                module = self.modules[key[0]]
                self._follow(module, module.functions[key[1]], reach, module_queue, function_queue)
        return reach

    @staticmethod
    def _routes(module: Module) -> list[str]:
        return [
            name
            for name, decorators in module.decorated.items()
            if decorators and not decorators & EVENT_DECORATORS and not decorators <= WRAPPING_DECORATORS
        ]

    def _follow(
        self, module: Module, body: Body, reach: Reach, modules: list[str], queue: list[tuple[str, str]]
    ) -> None:
        functions: list[tuple[str, str]] = []
        self._references(module, body, reach, modules, functions)
        for key in functions:
            if key not in reach.via:
                reach.via[key] = reach.current
                queue.append(key)

    def _references(
        self, module: Module, body: Body, reach: Reach, modules: list[str], functions: list[tuple[str, str]]
    ) -> None:
        for dotted in body.imports:
            ours = self.module_of(dotted)
            if ours is None:
                top = dotted.split(".")[0]
                reach.external.add(top)
                reach.importers.setdefault(top, reach.current if body is not module.top else (module.name, "<module>"))
                continue
            modules.append(ours)  # importing a name runs its module, not the function it names
        for text in body.strings:
            ours = self.module_of(text.split(":")[0]) if text.startswith("functions.") else None
            if ours is not None:
                modules.append(ours)
        for name in body.names:
            functions.extend(self._named(module.name, name))
            bound = module.bindings.get(name)
            if bound is not None:
                ours = self.module_of(bound)
                if ours is not None:
                    functions.extend(self._named(ours, bound.removeprefix(ours).lstrip(".")))
        for base, attr in body.attributes:
            target = module.bindings.get(base.split(".")[0]) if base else None
            dotted = f"{target}{base[len(base.split('.')[0]) :]}" if target else base
            ours = self.module_of(f"{dotted}.{attr}") if dotted else None
            if ours is not None and f"{dotted}.{attr}".startswith(ours):
                functions.extend(self._named(ours, f"{dotted}.{attr}".removeprefix(ours).lstrip(".")))
            else:
                functions.extend(self._methods.get(attr, ()))

    def _named(self, module_name: str, name: str, depth: int = 0) -> list[tuple[str, str]]:
        """The function, or the implicit methods of the class, `name` is in `module_name`."""
        module = self.modules[module_name]
        head = name.split(".")[0] if name else ""
        if head in module.functions:
            return [(module_name, head)]
        if head in module.classes:
            out = [(module_name, f"{head}.{m}") for m in module.classes[head]]
            rest = name.split(".")[1:2]
            if rest and f"{head}.{rest[0]}" in module.functions:
                out.append((module_name, f"{head}.{rest[0]}"))
            return out
        bound = module.bindings.get(head)  # a name imported (re-exported) by the module
        ours = self.module_of(bound) if bound else None
        if bound and ours and depth < 10:
            rest = ".".join([bound.removeprefix(ours).lstrip("."), *name.split(".")[1:]]).strip(".")
            return self._named(ours, rest, depth + 1)
        return []

    def strings_used(self, reach: Reach) -> set[tuple[str, str]]:
        """(module, string) for every string a reached function names, directly or through a module-level
        constant it uses (``FONTS = Path(__file__).with_name("fonts")``)."""
        out = set()
        for module_name, key in reach.functions:
            module = self.modules[module_name]
            body = module.functions[key]
            out |= {(module_name, s) for s in body.strings}
            for name in body.names:
                out |= {(module_name, s) for s in module.constants.get(name, ())}
        return out


@dataclass
class Reach:
    modules: set[str] = field(default_factory=set)
    functions: set[tuple[str, str]] = field(default_factory=set)
    external: set[str] = field(default_factory=set)  # top-level names of what is imported from outside
    importers: dict[str, tuple[str, str] | None] = field(default_factory=dict)  # external name -> first importer
    via: dict[tuple[str, str], tuple[str, str] | None] = field(default_factory=dict)  # first reached from
    current: tuple[str, str] | None = None

    def path_to(self, external: str) -> list[str]:
        """A chain of functions from an entry point to the first import of `external` (for messages)."""
        out, key = [], self.importers.get(external)
        while key is not None and len(out) < 30:
            out.append(".".join(key))
            key = self.via.get(key)
        return out[::-1]


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
