"""The house stays small enough to read (issue 15): every function in functions/ fits on a screen
(≤ 60 lines, decorators and docstring included) and every module is one thing (≤ 400 lines)."""

from __future__ import annotations

import ast
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _sources() -> list[Path]:
    return sorted(FUNCTIONS.rglob("*.py"))


def long_functions(tree: ast.AST) -> list[tuple[str, int]]:
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_no_function_in_functions_is_longer_than_60_lines():
    found = {
        f"{path.relative_to(FUNCTIONS)}:{name}": length
        for path in _sources()
        for name, length in long_functions(ast.parse(path.read_text()))
    }
    assert found == {}, f"split these functions (lines): {found}"


def test_no_module_in_functions_is_longer_than_400_lines():
    found = {
        str(path.relative_to(FUNCTIONS)): lines
        for path in _sources()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert found == {}, f"split these modules (lines): {found}"


def test_the_check_catches_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(ast.parse(f"def too_long():\n{body}\n")) == [("too_long", MAX_FUNCTION_LINES + 1)]
    assert long_functions(ast.parse("def short():\n    return 1\n")) == []
