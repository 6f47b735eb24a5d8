"""A deployed worker's Lambda imports its routes module, not app.py (sam.json's Handler is
`functions.<domain>.routes.<name>`): its handler must still run the invocation middleware (the Lambda
context on the log lines, the X-Ray start), which Chalice only gives a Blueprint's handlers when an app
registers them (functions/core/middleware.py `deployed_worker`)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _worker_targets() -> list[str]:
    """`module:function` of every Worker row of app.py's route table, read without importing app."""
    tree = ast.parse((ROOT / "app.py").read_text())
    return [
        node.args[1].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Worker"
    ]


_PROBE = """
import importlib, json, sys, types
from functions.core import logs, middleware
targets = json.loads(sys.argv[1])
wired = {}
for target in targets:
    module, function = target.split(":")
    handler = getattr(importlib.import_module(module), function)
    handler = getattr(handler, "__wrapped__", handler)  # billing_run's daily_run takes a bare {"date"} too
    wired[target] = middleware.lambda_context_in_logs in list(handler.middleware_handlers)
context = types.SimpleNamespace(aws_request_id="req-42", function_name="billow-prod-ValidateCard")
from functions.payments.routes import validate_card
answer = validate_card({"Records": []}, context)
keys = logs.get_logger().get_current_keys()
keys = {k: keys.get(k) for k in ("function_request_id", "function_name")}
print(json.dumps({"wired": wired, "answer": answer, "keys": keys, "app_loaded": "app" in sys.modules}))
"""


def test_each_worker_handler_runs_the_invocation_middleware_without_the_app():
    targets = _worker_targets()
    assert len(targets) >= 9, targets
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(targets)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["app_loaded"] is False
    assert result["wired"] == dict.fromkeys(targets, True)
    assert result["answer"] == {"batchItemFailures": []}
    assert result["keys"] == {"function_request_id": "req-42", "function_name": "billow-prod-ValidateCard"}
