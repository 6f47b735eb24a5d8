"""checkov, run as its own `checkov` script runs it, with one change: ply's parse tables are built once.

checkov's graph builder parses a JSONPath expression for nearly every attribute it renders, and its
bc_jsonpath_ng (1.6.1) builds a new LALR table with `ply.yacc.yacc(write_tables=0)` for every
expression ("we regenerate the parse table every time; it doesn't actually take that long!"): 54 % of
checkov's time over one of billow's templates. A table depends only on the grammar (the parser class)
and the start symbol, and a parser built from it is reused for each expression, as ply is meant to be
used, so the answers are the same; tests/infra/test_lint.py runs checkov through this file, and
compares its report with plain checkov's once (test_checkov_run_reports_what_plain_checkov_reports).

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
    key = (type(module), start, kwargs.get("debug"))
    if module is None or args:
        return _yacc(*args, module=module, start=start, **kwargs)
    if key not in _tables:
        _tables[key] = _yacc(module=module, start=start, **kwargs)
    return _tables[key]


ply.yacc.yacc = yacc_once

if __name__ == "__main__":
    from checkov.main import Checkov

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        sys.exit(Checkov().run())
