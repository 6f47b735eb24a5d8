"""The Chalice app in the CDK tree, from the package `make package` built: its zip and its sam.json.

Why not `chalice.cdk.Chalice` itself: that construct (chalice/cdk/construct.py, Chalice 1.34) always
runs `chalice.api.package_app(source_dir, …)` in its constructor. There is no parameter for a prebuilt
package, so it would deploy a second, different zip: without the precompiled unchecked-hash bytecode
and the checks of local/package.py, built from whatever the work tree holds (including stale
__pycache__), and named after the CDK scope rather than the Chalice stage. The only hook is a private
method (`_package_app`), and it would also copy the 30 MB zip into ./chalice.out/<uuid>/ on every
synth. So this construct does what the Chalice one does after packaging, with public CDK APIs only:

- each function's zip (manifest.json: `make package` builds one per function, holding what that
  function may import) becomes its own S3 asset (uploaded as is, by its content hash: functions whose
  zips are byte-identical share one object);
- sam.json is included with `cloudformation_include.CfnInclude` (logical ids preserved), each
  function's CodeUri pointing at its asset;
- `get_resource`, `get_function` and `add_environment_variable` behave as the Chalice construct's.

Chalice's DefaultRole (one role for every function, `sqs:*` actions on `*` once a queue handler
exists) is dropped: the stack gives each function its own role (infra/grants.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as assets
from aws_cdk import cloudformation_include
from constructs import Construct

from infra.sam import SAM_FUNCTION, function_zips, read_template

CHALICE_DEFAULT_ROLE = "DefaultRole"
ROLE_PLACEHOLDER = "role-set-by-infra"  # replaced by each function's own role before synthesis ends


class PackagedChaliceApp(Construct):
    """sam.json + one zip per function from `make package` (package_dir), as CDK resources."""

    def __init__(self, scope: Construct, construct_id: str, *, package_dir: Path, template_dir: Path) -> None:
        super().__init__(scope, construct_id)
        self.package_dir = package_dir
        self.template = read_template(package_dir)
        zips = function_zips(package_dir, self.template)
        self.code = {
            logical_id: assets.Asset(self, f"Code{logical_id}", path=str(path)) for logical_id, path in zips.items()
        }
        template_dir.mkdir(parents=True, exist_ok=True)
        template_file = template_dir / "sam-included.json"
        template_file.write_text(json.dumps(self._without_default_role(self.template), indent=1))
        self.sam_template = cloudformation_include.CfnInclude(
            self, "ChaliceApp", template_file=str(template_file), preserve_logical_ids=True
        )
        self.function_ids = sorted(
            logical_id for logical_id, r in self.template["Resources"].items() if r["Type"] == SAM_FUNCTION
        )
        for logical_id in self.function_ids:
            code = self.code[logical_id]
            self.get_resource(logical_id).add_property_override(
                "CodeUri", {"Bucket": code.s3_bucket_name, "Key": code.s3_object_key}
            )
        self._functions: dict[str, lambda_.IFunction] = {}

    @staticmethod
    def _without_default_role(template: dict[str, Any]) -> dict[str, Any]:
        out = json.loads(json.dumps(template))
        out["Resources"].pop(CHALICE_DEFAULT_ROLE, None)
        for resource in out["Resources"].values():
            props = resource.get("Properties", {})
            if resource["Type"] == SAM_FUNCTION and props.get("Role") == {"Fn::GetAtt": [CHALICE_DEFAULT_ROLE, "Arn"]}:
                props["Role"] = ROLE_PLACEHOLDER
        return out

    def get_resource(self, logical_id: str) -> Any:
        return self.sam_template.get_resource(logical_id)

    def get_function(self, logical_id: str) -> lambda_.IFunction:
        if logical_id not in self._functions:
            arn = self.get_resource(logical_id).get_att("Arn").to_string()
            self._functions[logical_id] = lambda_.Function.from_function_arn(self, logical_id, arn)
        return self._functions[logical_id]

    def add_environment_variable(self, key: str, value: str, logical_id: str) -> None:
        self.get_resource(logical_id).add_override(f"Properties.Environment.Variables.{key}", value)
