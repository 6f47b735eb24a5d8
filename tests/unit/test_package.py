"""The Lambda zips (`make package`): one per function, what each holds, shipped bytecode, determinism,
and that each function's handler imports from its own zip alone.

`make test` builds build/package before pytest when its fingerprint is stale (local/package.py
`--if-stale`), so these tests read it; run alone, pytest builds it here when it is missing or stale (a
build installs requirements.lock, hash-checked, from build/wheels once downloaded, runs `chalice
package` once and writes one zip per function of sam.json: local/package_select.py says what each holds).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "build" / "package"
TAG = sys.implementation.cache_tag  # cpython-311: the test runs on the Lambda runtime's Python
NEVER_SHIPPED = ("local", "tests", "bench", "infra")
PDF_STACK = ("fpdf", "fontTools", "PIL", "uharfbuzz", "functions/invoices/fonts")


@pytest.fixture(scope="module")
def package_dir() -> Path:
    from local.package import is_current

    if not is_current(BUILT):
        result = subprocess.run(
            [sys.executable, "-m", "local.package", str(BUILT)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return BUILT


@pytest.fixture(scope="module")
def manifest(package_dir: Path) -> dict[str, Any]:
    return dict(json.loads((package_dir / "manifest.json").read_text()))


@pytest.fixture(scope="module")
def api_zip(package_dir: Path, manifest: dict[str, Any]) -> Path:
    return package_dir / manifest["functions"]["APIHandler"]["zip"]


@pytest.fixture(scope="module")
def unpacked_zips(
    package_dir: Path, manifest: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """logical id -> its zip unpacked (byte-identical zips unpacked once)."""
    first = {}
    for logical_id, entry in sorted(manifest["functions"].items()):
        first.setdefault(entry["sha256"], (logical_id, entry["zip"]))

    def unpack(item: tuple[str, str]) -> Path:
        tree = tmp_path_factory.mktemp(f"unpacked-{item[0]}")
        with zipfile.ZipFile(package_dir / item[1]) as archive:
            archive.extractall(tree)
        return tree

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # zlib releases the GIL
        trees = dict(zip(first, pool.map(unpack, first.values()), strict=True))
    return {logical_id: trees[entry["sha256"]] for logical_id, entry in manifest["functions"].items()}


@pytest.fixture(scope="module")
def unpacked(unpacked_zips: dict[str, Path]) -> Path:
    """The API's zip, unpacked."""
    return unpacked_zips["APIHandler"]


def _rel(tree: Path, pattern: str) -> list[str]:
    return sorted(p.relative_to(tree).as_posix() for p in tree.glob(pattern) if p.is_file())


def test_every_zip_has_the_app_and_all_of_functions_at_its_root_and_nothing_local(unpacked_zips) -> None:
    repo_modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "functions").rglob("*.py"))
    for logical_id, tree in unpacked_zips.items():
        assert (tree / "app.py").is_file(), logical_id
        assert (tree / "chalice" / "app.py").is_file(), logical_id
        # vendor/functions was followed: the zip holds every module of functions/, not the symlink
        assert _rel(tree, "functions/**/*.py") == repo_modules, logical_id
        assert not (tree / "vendor").exists()
        for name in NEVER_SHIPPED:
            assert not (tree / name).exists(), f"{name}/ must never be in a Lambda zip ({logical_id})"


def test_every_function_of_sam_json_has_its_zip_and_sam_json_points_at_it(package_dir, manifest) -> None:
    template = json.loads((package_dir / "sam.json").read_text())
    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(manifest["functions"]) and "APIHandler" in functions
    for logical_id, fn in functions.items():
        entry = manifest["functions"][logical_id]
        assert fn["Properties"]["CodeUri"] == f"./{entry['zip']}"
        assert fn["Properties"]["Handler"] == entry["handler"]
        assert (package_dir / entry["zip"]).stat().st_size == entry["size"]
    assert sorted(p.name for p in package_dir.glob("*.zip")) == sorted(
        {e["zip"] for e in manifest["functions"].values()}
    )


def test_the_zips_are_deterministic(package_dir, manifest, unpacked_zips, tmp_path) -> None:
    for entry in manifest["functions"].values():
        with zipfile.ZipFile(package_dir / entry["zip"]) as archive:
            infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert len(set(names)) == len(names) == entry["entries"]
        assert not [name for name in names if name.endswith("/")]
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in infos} == {0o100644}
    # the same files give the same bytes: the smallest zip written again from its own files
    from local.package_zip import Compressed, write_zip

    logical_id, entry = min(manifest["functions"].items(), key=lambda item: item[1]["size"])
    tree = unpacked_zips[logical_id]
    names = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    write_zip(Compressed(tree), names, tmp_path / "again.zip")
    import hashlib

    assert hashlib.sha256((tmp_path / "again.zip").read_bytes()).hexdigest() == entry["sha256"]


def _pyc_for(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"


def test_every_module_ships_unchecked_hash_bytecode(unpacked: Path) -> None:
    """The API's zip (the others are cut from the same compiled tree)."""
    sources = sorted(unpacked.rglob("*.py"))
    ours = [p for p in sources if p.relative_to(unpacked).parts[0] == "functions" or p.name == "app.py"]
    assert len(ours) > 10
    for source in sources:
        pyc = _pyc_for(source)
        assert pyc.is_file(), f"no bytecode for {source.relative_to(unpacked)}"
        header = pyc.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        # PEP 552 flags: bit 0 = hash-based, bit 1 = check_source; compileall's unchecked-hash writes 1
        assert int.from_bytes(header[4:8], "little") == 1, f"{pyc} is not an unchecked hash-based pyc"
        assert header[8:16] == importlib.util.source_hash(source.read_bytes()), f"{pyc} is stale"
    # only bytecode for the runtime's interpreter, and none without a source next to it
    pycs = sorted(unpacked.rglob("*.pyc"))
    assert all(p.name.endswith(f".{TAG}.pyc") and p.parent.name == "__pycache__" for p in pycs)
    assert len(pycs) == len(sources)


_IMPORT_HANDLER = """
import importlib, json, sys
tree, handler = sys.argv[1], sys.argv[2]
stdlib = tuple(sys.path)  # -I -S: the standard library only
sys.path[:] = [tree, *stdlib]
module_name, attribute = handler.rsplit(".", 1)
entry = getattr(importlib.import_module(module_name), attribute)
if module_name == "app":  # the API imports its route modules on their first request: every one must import
    from functions.core import route_loader
    route_loader.load_all()
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not module.__file__.startswith((tree, *stdlib))
)
routes = sorted(entry.routes) if hasattr(entry, "routes") else []
print(json.dumps({"callable": callable(entry), "routes": routes, "outside": outside}))
"""


def lambda_env(template: dict[str, Any], logical_id: str, tree: Path, scratch: Path) -> dict[str, str]:
    """What Lambda gives the function: its sam.json variables, credentials, region, task root."""
    props = template["Resources"][logical_id]["Properties"]
    env = dict(props.get("Environment", {}).get("Variables", {}))
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(scratch / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "none"),
            "AWS_LAMBDA_FUNCTION_NAME": f"billow-prod-{logical_id}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 512)),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{props['Runtime']}",
            "LAMBDA_TASK_ROOT": str(tree),
            "HOME": str(scratch),
            "LANG": "C.UTF-8",
        }
    )
    return env


def test_each_handler_imports_from_its_own_unpacked_zip_alone(package_dir, manifest, unpacked_zips, tmp_path) -> None:
    template = json.loads((package_dir / "sam.json").read_text())

    def bytecode_state(tree: Path) -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in tree.rglob("*.pyc")}

    before = {tree: bytecode_state(tree) for tree in set(unpacked_zips.values())}
    for logical_id, entry in sorted(manifest["functions"].items()):
        tree = unpacked_zips[logical_id]
        # bytecode writing stays on: a pyc the interpreter rejected would be rewritten, and caught below
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _IMPORT_HANDLER, str(tree), entry["handler"]],
            env=lambda_env(template, logical_id, tree, tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{logical_id} ({entry['handler']}):\n{result.stderr}"
        report = json.loads(result.stdout)
        assert report["callable"], logical_id
        assert report["outside"] == [], f"{logical_id}: modules loaded from outside its zip and the standard library"
        if logical_id == "APIHandler":
            assert "/v1/health" in report["routes"]
    for tree, state in before.items():
        assert bytecode_state(tree) == state, "the interpreter recompiled shipped modules instead of using their pyc"


@functools.lru_cache(maxsize=1)
def _graph() -> Any:
    from local.package_graph import CodeGraph

    return CodeGraph(ROOT)


def _reach(handler: str) -> Any:
    return _graph().reach(handler, "app.app")


def test_the_pdf_renderer_ships_exactly_with_the_functions_that_may_render(manifest, unpacked_zips) -> None:
    """fpdf2, fontTools, Pillow, uharfbuzz and the fonts: in a zip iff its function's code may run the
    renderer (a lazy `import fpdf` in a function it can reach); the API's never, once it only presigns."""
    for logical_id, entry in sorted(manifest["functions"].items()):
        tree = unpacked_zips[logical_id]
        shipped = [name for name in PDF_STACK if (tree / name).is_dir()]
        renders = "fpdf" in _reach(entry["handler"]).external
        assert shipped == (list(PDF_STACK) if renders else []), logical_id
        assert ("fpdf2" in entry["left_out"]) is not renders
    api = _reach("app.app")
    if "fpdf" in api.external:
        pytest.skip(
            "the API still renders PDFs itself (" + " -> ".join(api.path_to("fpdf")) + "): its zip keeps the "
            "renderer until the render queue (issue 21) makes it only presign"
        )
    names = zipfile.ZipFile(BUILT / manifest["functions"]["APIHandler"]["zip"]).namelist()
    assert not [n for n in names if n.startswith(tuple(f"{p}/" for p in PDF_STACK))]


_CLIENTS = """
import json, sys
sys.path[:] = [sys.argv[1], *sys.path]
import boto3, botocore.session
from botocore.exceptions import UnknownServiceError
services = json.loads(sys.argv[2])
made = {}
for name in services:
    client = boto3.client(name, region_name="eu-west-3")
    made[name] = client.meta.service_model.service_name
url = boto3.client("s3", region_name="eu-west-3").generate_presigned_url(
    "get_object", Params={"Bucket": "b", "Key": "k.pdf"}, ExpiresIn=60)
try:
    boto3.client("ec2", region_name="eu-west-3")
    ec2 = "created"
except UnknownServiceError:
    ec2 = "unknown"
print(json.dumps({"made": made, "url": url, "ec2": ec2}))
"""


def test_every_client_billow_creates_comes_from_the_cut_botocore_data(manifest, unpacked_zips, tmp_path) -> None:
    # every literal service name in functions/ (boto3.client("…")), and DynamoDB (PynamoDB's)
    used = {"dynamodb"}
    for path in (ROOT / "functions").rglob("*.py"):
        used |= set(re.findall(r"""\bclient\(\s*["']([a-z0-9-]+)["']""", path.read_text()))
    assert {"s3", "sqs", "sesv2", "kms", "events", "secretsmanager"} <= used
    services = manifest["botocore_services"]
    assert used <= set(services)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    for tree in sorted(set(unpacked_zips.values())):
        kept = sorted(p.name for p in (tree / "botocore" / "data").iterdir() if p.is_dir())
        assert kept == sorted(services)
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _CLIENTS, str(tree), json.dumps(services)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert sorted(report["made"]) == sorted(services)
        assert report["url"].startswith("https://") and "X-Amz-Signature=" in report["url"]
        assert report["ec2"] == "unknown", "botocore's data is cut to the services billow calls"


_STRIPE = """
import json, sys
sys.path[:] = [sys.argv[1], *sys.path]
import stripe
client = stripe.StripeClient("sk_test_packaged", base_addresses={"api": "http://127.0.0.1:9"})
services = [type(getattr(client.v1, name)).__name__ for name in
            ("customers", "setup_intents", "payment_intents", "payment_methods", "refunds", "events")]
try:
    import stripe.params
    params = "importable"
except ModuleNotFoundError:
    params = "absent"
print(json.dumps({"services": services, "params": params, "event": type(stripe.Event.construct_from(
    {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
     "data": {"object": {"id": "pi_1", "object": "payment_intent"}}}, "sk_test_packaged").data.object).__name__}))
"""


def test_the_typing_only_stripe_params_are_left_out_and_stripe_works_without_them(manifest, unpacked, tmp_path):
    """stripe.params (TypedDicts for type checkers) is left out of every zip when the build proves that
    nothing loads it at run time (local/package_proofs.py NEVER_LOADED); stripe's client, its services and
    its event objects work without it."""
    from local.package_select import typing_only_offenders

    assert "stripe.params" in manifest["never_loaded_left_out"]
    assert (unpacked / "stripe").is_dir() and not (unpacked / "stripe" / "params").exists()
    assert typing_only_offenders(unpacked, "stripe.events"), "the proof finds a sub-package stripe does load"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _STRIPE, str(unpacked)],
        env={"HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["params"] == "absent"
    assert report["services"] == [
        "CustomerService",
        "SetupIntentService",
        "PaymentIntentService",
        "PaymentMethodService",
        "RefundService",
        "EventService",
    ]
    assert report["event"] == "PaymentIntent"


_CUT_TREE_WORKS = """
import json, sys
sys.path[:] = [sys.argv[1], *sys.path]
token, jwk = sys.argv[2], sys.argv[3]
import jwt
from jwt.algorithms import RSAAlgorithm
claims = jwt.decode(token, RSAAlgorithm.from_jwk(jwk), algorithms=["RS256"], audience="billow-console")
from pydantic import ValidationError
from functions.accounts.schemas import CreateAccount
body = {"type": "payg", "linked": False, "currency": "eur", "name": "Zip Cut SARL",
        "billing_contact": {"name": "Ops", "email": "ops@example.com",
                            "address": {"line1": "1 rue", "city": "Lyon", "postal_code": "69001", "country": "FR"}}}
try:
    account = CreateAccount.model_validate(body).model_dump(mode="json")
except ValidationError as exc:
    account = {"error": str(exc)}
try:
    CreateAccount.model_validate({**body, "billing_day": 29})
    refused = False
except ValidationError:
    refused = True
import stripe
sent = []
class Recorder(stripe.HTTPClient):
    name = "recorder"
    def request(self, method, url, headers, post_data=None, *, _usage=None):
        sent.append({"method": method, "url": url, "body": post_data})
        return '{"id": "cus_1", "object": "customer", "email": "ops@example.com"}', 200, {}
    def close(self):
        pass
client = stripe.StripeClient("sk_test_packaged", http_client=Recorder(), max_network_retries=0)
customer = client.v1.customers.create(params={"email": "ops@example.com", "metadata": {"account": "a1"}})
names = ("cffi", "pycparser", "pydantic.v1", "stripe.params")
print(json.dumps({"sub": claims["sub"], "account": account, "refused": refused, "sent": sent,
                  "customer": [type(customer).__name__, customer.id],
                  "loaded": sorted(n for n in names if n in sys.modules)}))
"""


def test_the_api_zip_works_without_the_parts_the_build_proved_never_loaded(package_dir, manifest, unpacked, tmp_path):
    """The build leaves out what local/package_proofs.py proves nothing loads (pydantic.v1, cffi's Python
    half, pycparser, stripe.params); from the API's cut tree alone, an RS256 token verifies (PyJWT through
    cryptography's Rust extension and _cffi_backend), a billow schema validates and refuses, and stripe
    builds and sends a request (to a recording HTTP client: no network), none of them loading a part cut."""
    from local.package_proofs import NEVER_LOADED
    from local.tokens import generate_private_key, jwks, mint

    cut = ["stripe.params", "pydantic.v1", "cffi", "pycparser"]
    assert manifest["never_loaded_left_out"] == cut == [e.dotted for e in NEVER_LOADED]
    for dotted in cut:
        assert not (unpacked / dotted.replace(".", "/")).exists(), dotted
    assert list(unpacked.glob("_cffi_backend.*.so")), "cffi's C half stays: cryptography's extension loads it"
    key = generate_private_key()
    token = mint(key, "user-zip", ["accounts.read"])
    template = json.loads((package_dir / "sam.json").read_text())
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _CUT_TREE_WORKS, str(unpacked), token, json.dumps(jwks(key)["keys"][0])],
        env=lambda_env(template, "APIHandler", unpacked, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sub"] == "user-zip"
    assert report["account"]["name"] == "Zip Cut SARL" and report["account"]["currency"] == "eur", report["account"]
    assert report["refused"], "billing_day 29 is refused (1..28)"
    assert [(r["method"], r["url"]) for r in report["sent"]] == [("post", "https://api.stripe.com/v1/customers")]
    assert "email=ops%40example.com" in report["sent"][0]["body"]
    assert "metadata[account]=a1" in report["sent"][0]["body"].replace("%5B", "[").replace("%5D", "]")
    assert report["customer"] == ["Customer", "cus_1"]
    assert report["loaded"] == []


def test_each_never_loaded_proof_refuses_when_something_loads_it(tmp_path) -> None:
    """The proofs fail (keep the package) on a tree where something may load it."""
    from local.package_proofs import NEVER_LOADED, cut_never_loaded

    proofs = {e.dotted: e.proof for e in NEVER_LOADED}
    (tmp_path / "cffi").mkdir()
    (tmp_path / "cffi" / "__init__.py").write_text("")
    (tmp_path / "user.py").write_text("def f():\n    import cffi\n")
    assert proofs["cffi"](tmp_path) == ["user.py:2"]
    (tmp_path / "user.py").write_text("import importlib\nimportlib.import_module('pycparser.c_parser')\n")
    (tmp_path / "pycparser").mkdir()
    assert proofs["pycparser"](tmp_path) == ["user.py:2"]
    (tmp_path / "user.py").write_text("")
    (tmp_path / "ext.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x00PyInit\x00cffi.api\x00")
    assert proofs["cffi"](tmp_path) == ["ext.cpython-311-x86_64-linux-gnu.so: b'cffi.api'"]
    kept = []
    assert cut_never_loaded(tmp_path, kept.append) == ["pycparser"] and (tmp_path / "cffi").is_dir()
    assert kept and kept[0].startswith("cffi kept")
    v1 = tmp_path / "v1"
    (v1 / "pydantic" / "v1").mkdir(parents=True)
    (v1 / "pydantic" / "_migration.py").write_text(
        "R = {f'pydantic.utils:{o}': f'pydantic.v1.utils:{o}' for o in 'ab'}\n"
    )
    assert proofs["pydantic.v1"](v1) == ["pydantic/_migration.py:1"], "a site the proof has not read"
    (v1 / "pydantic" / "_migration.py").write_text("R = {'pydantic.utils:a': 'pydantic.v1.utils:a'}\n")
    (v1 / "mine.py").write_text("class Money:\n    @classmethod\n    def __get_validators__(cls):\n        yield int\n")
    assert proofs["pydantic.v1"](v1) == ["pydantic/_migration.py:1", "mine.py:3"]
    (v1 / "mine.py").write_text("from pydantic.utils import deep_update\n")
    assert proofs["pydantic.v1"](v1) == ["pydantic/_migration.py:1", "mine.py:1"]


# ---- the locked dependencies (DESIGN §9) ---------------------------------------------------------------


def _locked() -> dict[str, str]:
    from local.lock import pins

    return pins((ROOT / "requirements.lock").read_text())


def test_the_zips_hold_the_locked_distributions_at_their_versions_each_whole_or_left_out(manifest, unpacked_zips):
    from local.lock import normalize

    everywhere: dict[str, str] = {}
    never_loaded = manifest["never_loaded_left_out"]
    for logical_id, tree in unpacked_zips.items():
        shipped = {}
        for dist_info in tree.glob("*.dist-info"):
            name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
            shipped[normalize(name)] = version
            # whole: every file its RECORD names is there (bytecode and console scripts aside)
            for line in (dist_info / "RECORD").read_text().splitlines():
                path = line.rsplit(",", 2)[0]
                cut = ("botocore/data/", "boto3/data/", *(f"{d.replace('.', '/')}/" for d in never_loaded))
                if not path.startswith("..") and "__pycache__" not in path:
                    assert (tree / path).is_file() or path.startswith(cut), path
        assert shipped == {k: v for k, v in _locked().items() if k not in manifest["functions"][logical_id]["left_out"]}
        assert not (tree / "bin").exists(), "console scripts are not shipped"
        # boto3 and botocore come from the lock, not from Lambda's runtime
        assert (tree / "boto3" / "__init__.py").is_file() and (tree / "botocore" / "__init__.py").is_file()
        everywhere |= shipped
    assert everywhere == _locked(), "a locked distribution no function ships"


def _lock_line(name: str) -> tuple[str, list[str]]:
    text = (ROOT / "requirements.lock").read_text()
    block = text[text.index(f"\n{name}==") + 1 :].split("\n\n")[0]
    block = block.split("\n    # via")[0]
    import re

    return block.splitlines()[0].split(" ")[0], re.findall(r"--hash=sha256:([0-9a-f]{64})", block)


def test_a_changed_hash_fails_the_package_install_offline(package_dir: Path, tmp_path: Path) -> None:
    """The package step's install (local/package.py install_lock: --require-hashes, --no-deps, Lambda's
    platform) from the wheelhouse the build filled, with no index: one altered hash fails it; the
    lock's own hashes install the same wheel (so the failure is the hash, not a missing file)."""
    from local.package import WHEELHOUSE, PackageError, install_lock

    pin, hashes = _lock_line("six")
    assert list(WHEELHOUSE.glob("six-*.whl")), "the build downloads the lock's wheels into build/wheels"
    altered = [h[:-1] + ("0" if h[-1] != "0" else "1") for h in hashes]
    bad = tmp_path / "bad.lock"
    bad.write_text(f"{pin} " + " ".join(f"--hash=sha256:{h}" for h in altered) + "\n")
    with pytest.raises(PackageError, match=r"(?s)DO NOT MATCH THE HASHES.*six"):
        install_lock(bad, tmp_path / "bad-target", WHEELHOUSE)
    assert not (tmp_path / "bad-target" / "six.py").exists()
    good = tmp_path / "good.lock"
    good.write_text(f"{pin} " + " ".join(f"--hash=sha256:{h}" for h in hashes) + "\n")
    install_lock(good, tmp_path / "good-target", WHEELHOUSE)
    assert (tmp_path / "good-target" / "six.py").is_file()


def test_an_unhashed_lock_line_fails_too(package_dir: Path, tmp_path: Path) -> None:
    from local.package import WHEELHOUSE, PackageError, install_lock

    pin, _ = _lock_line("six")
    lock = tmp_path / "unhashed.lock"
    lock.write_text(f"{pin}\n")
    with pytest.raises(PackageError, match=r"(?i)hash"):
        install_lock(lock, tmp_path / "target", WHEELHOUSE)


# ---- the rule, on a small tree (no build) --------------------------------------------------------------

_APP = """
from functions import a
ROUTE_MODULES = ("functions.b",)  # loaded by name
"""
_A = """
from typing import TYPE_CHECKING
from chalice import Blueprint
if TYPE_CHECKING:
    import typing_only_lib
bp = Blueprint(__name__)


def route(fn):
    return fn


def _heavy():
    import heavy_renderer
    return heavy_renderer


class Store:
    def save(self):
        import store_sdk


@route
def view():
    return _light() or Store()


def _light():
    import light_lib
    Store().save()


@bp.on_sqs_message(queue="q")
def worker(event):
    return _heavy()
"""
_B = """
import loaded_by_name
"""


def test_the_rule_follows_lazy_imports_only_into_functions_the_handler_may_run(tmp_path) -> None:
    from local.package_graph import CodeGraph

    (tmp_path / "functions").mkdir()
    (tmp_path / "app.py").write_text(_APP)
    (tmp_path / "functions" / "__init__.py").write_text("")
    (tmp_path / "functions" / "a.py").write_text(_A)
    (tmp_path / "functions" / "b.py").write_text(_B)
    graph = CodeGraph(tmp_path)
    api = graph.reach("app.app", "app.app")
    # a route's lazy import, a method it calls (by name), a module named in a string: reached; the
    # worker's lazy import and a TYPE_CHECKING import: not
    assert api.external == {"typing", "chalice", "light_lib", "store_sdk", "loaded_by_name"}
    assert api.path_to("light_lib") == ["functions.a.view", "functions.a._light"]
    worker = graph.reach("functions.a.worker", "app.app")
    assert "heavy_renderer" in worker.external and "light_lib" not in worker.external
    assert worker.path_to("heavy_renderer") == ["functions.a.worker", "functions.a._heavy"]
    with pytest.raises(KeyError):
        graph.reach("functions.a.missing", "app.app")
