"""checkov, run as its own `checkov` script runs it, with one change: ply's parse tables are built once.

checkov's graph builder parses a JSONPath expression for nearly every attribute it renders, and its
bc_jsonpath_ng (1.6.1) builds a new LALR table with `ply.yacc.yacc(write_tables=0)` for every
expression ("we regenerate the parse table every time; it doesn't actually take that long!"): 54 % of
checkov's time over one of billow's templates. A table depends only on the grammar (the parser class)
and the start symbol, and a parser built from it is reused for each expression, as ply is meant to be
used, so the answers are the same (compared by hand over billow's prod template: the same passed, failed
and skipped checks). Only bc_jsonpath_ng's parsers are cached: ply binds a table's grammar actions to
the first parser object, which is safe for them (their actions keep no state) and not for every ply
grammar (spdx-tools' keeps the document it builds on the parser). tests/infra/test_lint.py runs
checkov through this file, and test_checkov_run_parses_every_jsonpath_as_plain_bc_jsonpath_ng_does
compares the trees of cached and per-expression tables.

Run with the infra-tools venv's python (`.venv/infra-tools/bin/python tests/infra/checkov_run.py ARGS`).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import ply.yacc

_yacc = ply.yacc.yacc
_tables: dict[tuple[type, Any, Any], Any] = {}


def yacc_once(*args: Any, module: Any = None, start: Any = None, **kwargs: Any) -> Any:
    from bc_jsonpath_ng.parser import JsonPathParser

    if args or not isinstance(module, JsonPathParser):
        return _yacc(*args, module=module, start=start, **kwargs)
    key = (type(module), start, kwargs.get("debug"))
    if key not in _tables:
        _tables[key] = _yacc(module=module, start=start, **kwargs)
    return _tables[key]


ply.yacc.yacc = yacc_once

if __name__ == "__main__":
    from checkov.main import Checkov

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        sys.exit(Checkov().run())
