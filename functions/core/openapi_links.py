"""OpenAPI `links`: which operation can take the ids one operation answers (create an item → get it,
associate it, cancel it; list invoices → get the first one). Derived from the paths and schemas, so a
stateful client (schemathesis) chains every route, those added later included:

- an answer's `id` names the parameter of its own path plus `/{param}` (POST …/payments answers
  `{"id": "pay_…"}` and …/payments/{payment_id} exists), or else the parameter of the GET route that
  answers that schema (an Invoice's `id` is GET …/invoices/{invoice_id}'s `invoice_id`);
- any field (at most two objects or lists deep) named like a path parameter (`item_id`, `service`) is one;
- an operation B is linked from A when every path parameter of B is found in A's answer or A's own path,
  and at least one comes from the answer (an answer whose `id` is its own path's id counts: after
  PATCH /v1/accounts/{account_id} or POST …/link, every route of that account).
"""

from __future__ import annotations

import re
from typing import Any

_PARAM = re.compile(r"{(\w+)}")


def _id_param(path: str, owner: str, paths: set[str], readers: dict[str, str]) -> str | None:
    for candidate in paths:
        if candidate.startswith(path + "/{") and candidate.count("/") == path.count("/") + 1:
            return _PARAM.findall(candidate[len(path) :])[0]
    return readers.get(owner)  # an Invoice's id is what GET …/invoices/{invoice_id} takes


def _readers(paths: dict[str, dict[str, Any]]) -> dict[str, str]:
    """schema name → the id parameter of the path whose object it is (`Invoice` → invoice_id from GET
    …/invoices/{invoice_id}; `Account` → account_id from PATCH /v1/accounts/{account_id}), GETs first."""
    out: dict[str, str] = {}
    for method in ("get", "patch", "put", "delete"):
        for path, ops in paths.items():
            segments = path.split("/")
            if method not in ops or not segments[-1].startswith("{") or segments[-2].startswith("{"):
                continue
            ok = next((r for s, r in ops[method]["responses"].items() if s.startswith("2")), {})
            ref = ok.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref:
                out.setdefault(ref.rsplit("/", 1)[-1], segments[-1].strip("{}"))
    return out


def _sources(
    schema: dict[str, Any],
    components: dict[str, Any],
    ctx: tuple[str, set[str], set[str], dict[str, str]],
    pointer: str,
    depth: int,
) -> dict[str, str]:
    """param name → JSON pointer of the first field in `schema` that carries it."""
    path, params, paths, readers = ctx
    owner = ""
    if "$ref" in schema:
        owner = schema["$ref"].rsplit("/", 1)[-1]
        schema = components[owner]
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            if branch.get("type") != "null":
                return _sources(branch, components, ctx, pointer, depth)
    if schema.get("type") == "array" and "items" in schema and depth > 0:
        return _sources(schema["items"], components, ctx, f"{pointer}/0", depth - 1)
    found: dict[str, str] = {}
    for name, prop in schema.get("properties", {}).items():
        if any(b.get("type") == "null" for b in prop.get("anyOf", [])) and name in params:
            continue  # a nullable id cannot be counted on to call anything
        param = _id_param(path, owner, paths, readers) if name == "id" else name if name in params else None
        if param is not None:
            found.setdefault(param, f"{pointer}/{name}")
        elif depth > 0 and name not in ("errors",):
            for key, value in _sources(prop, components, ctx, f"{pointer}/{name}", depth - 1).items():
                found.setdefault(key, value)
    return found


def add_links(paths: dict[str, dict[str, Any]], components: dict[str, Any]) -> None:
    """Set `links` on every success response from which another operation can be called."""
    every_param = {p for path in paths for p in _PARAM.findall(path)}
    readers = _readers(paths)
    operations = [(path, method, op) for path, ops in paths.items() for method, op in ops.items()]
    for path, _method, op in operations:
        response = next((r for s, r in op["responses"].items() if s.startswith("2")), None)
        schema = ((response or {}).get("content") or {}).get("application/json", {}).get("schema")
        if schema is None:
            continue
        ctx = (path, every_param, set(paths), readers)
        sources = _sources(schema, components, ctx, "", 3)
        # an answer that IS the object of its own path's last id (PATCH or link an account answers the
        # account) names it afresh: the calls that follow a change can take the id from it
        own = set(_PARAM.findall(path)) - {p for p, pointer in sources.items() if pointer == "/id"}
        links = {}
        for target_path, _target_method, target in operations:
            needed = _PARAM.findall(target_path)
            if target is op or not needed or not any(p in sources for p in needed):
                continue
            if not all(p in sources or p in own for p in needed):
                continue
            parameters = {
                p: f"$response.body#{sources[p]}" if p in sources and p not in own else f"$request.path.{p}"
                for p in needed
            }
            if all(v.startswith("$request") for v in parameters.values()):
                continue
            links[target["operationId"]] = {"operationId": target["operationId"], "parameters": parameters}
        if links:
            response["links"] = dict(sorted(links.items()))
