"""Cold init of the API handler, measured on the API function's zip (build/package/APIHandler.zip).

The zip is unpacked twice: as built (with its unchecked-hash bytecode) and with every ``__pycache__``
left out. Each sample is a fresh ``python -I -S -B`` process whose ``sys.path`` is that directory
plus the standard library, as Lambda's ``/var/task`` is; the process times one import statement
with ``time.perf_counter_ns`` and reports how many modules it added to ``sys.modules``. Interpreter
start-up is not included: it is the same for every variant and Lambda's runtime pays it anyway.

Variants (all interleaved, the order rotated each round, medians reported):

- ``floor``: ``import chalice`` + ``botocore.session``/``botocore.client`` + ``pynamodb.models``/
  ``pynamodb.connection`` from the same unpacked package: what any Chalice + PynamoDB handler imports
  before it has code of its own.
- ``app``: ``import app`` (the handler module: sam.json's ``Handler: app.app``).
- ``app, no bytecode``: ``import app`` from the copy without ``__pycache__``; ``-B`` keeps the
  interpreter from writing any, as Lambda's read-only ``/var/task`` would.
- ``app + 1st request``: ``import app``, then the first authenticated request through ``app.app(event,
  context)`` (bench/first_request.py: the owner's GET /v1/accounts/{id}/summary against moto's server),
  timed apart: init, request, and their sum. Making the import lighter must not just move the work
  into the first request: the sum is the figure to compare.
- with ``--baseline ZIP`` (a package of an earlier commit, e.g. before the lazy route table),
  ``baseline app`` and ``baseline app + 1st request``: the same probes on that package, in the same
  rounds, so the two are compared side by side on the same machine load.

The environment is the APIHandler's variables from sam.json, fake AWS credentials and the variables
Lambda sets (function name, memory, region), so nothing reads the caller's AWS configuration.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench import first_request

FLOOR_IMPORTS = (
    "import chalice",
    "import botocore.session",
    "import botocore.client",
    "import pynamodb.models",
    "import pynamodb.connection",
)
APP_IMPORTS = ("import app",)
# For information: pydantic is part of the fixed stack (every route's schemas), so the bench also
# shows the floor with it.
PYDANTIC_IMPORTS = ("from pydantic import BaseModel",)
GOAL = 1.2  # DESIGN.md §6: cold init <= 1.2x the floor

# Runs in the measured process. Only sys and time (both built in) are loaded before the clock starts.
_PROBE = """
import sys, time
sys.path[:0] = [sys.argv[1]]
before = len(sys.modules)
start = time.perf_counter_ns()
{imports}
elapsed = time.perf_counter_ns() - start
sys.stdout.write(f"{{elapsed}} {{len(sys.modules) - before}}\\n")
"""


def probe_source(imports: tuple[str, ...]) -> str:
    return _PROBE.format(imports="\n".join(imports))


@dataclass(frozen=True)
class Variant:
    name: str
    tree: Path
    imports: tuple[str, ...]
    backend: first_request.Backend | None = None  # set: import app, then the first request against it

    @property
    def source(self) -> str:
        if self.backend is not None:
            return first_request.probe_source(self.backend)
        return probe_source(self.imports)


@dataclass
class Samples:
    variant: Variant
    nanoseconds: list[int]  # a first-request variant: init + request
    modules: set[int]
    init_ns: list[int] = field(default_factory=list)  # first-request variants only
    request_ns: list[int] = field(default_factory=list)

    @property
    def init_median_ms(self) -> float:
        return statistics.median(self.init_ns) / 1e6

    @property
    def request_median_ms(self) -> float:
        return statistics.median(self.request_ns) / 1e6

    @property
    def median_ms(self) -> float:
        return statistics.median(self.nanoseconds) / 1e6

    @property
    def min_ms(self) -> float:
        return min(self.nanoseconds) / 1e6

    @property
    def max_ms(self) -> float:
        return max(self.nanoseconds) / 1e6


def unpack(zip_path: Path, into: Path, *, bytecode: bool) -> Path:
    into.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if bytecode or "__pycache__/" not in n]
        archive.extractall(into, members=names)
    return into


def lambda_env(sam_path: Path, tree: Path, scratch: Path) -> dict[str, str]:
    template = json.loads(sam_path.read_text())
    handler = template["Resources"]["APIHandler"]["Properties"]
    env = dict(handler.get("Environment", {}).get("Variables", {}))
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
            "AWS_LAMBDA_FUNCTION_NAME": "billow-prod-APIHandler",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(handler.get("MemorySize", 512)),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{handler['Runtime']}",
            "LAMBDA_TASK_ROOT": str(tree),
            "HOME": str(scratch),
            "LANG": "C.UTF-8",
        }
    )
    return env


def run_once(variant: Variant, env: dict[str, str], *extra_flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-I", "-S", "-B", *extra_flags, "-c", variant.source, str(variant.tree)]
    if variant.backend is not None:
        env = {**env, **variant.backend.env}
    result = subprocess.run(command, env=env, cwd=variant.tree, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{variant.name}: the probe failed:\n{result.stderr}")
    return result


def measure(variants: list[Variant], env: dict[str, str], runs: int, warmup: int = 1) -> dict[str, Samples]:
    samples = {v.name: Samples(v, [], set()) for v in variants}
    for round_number in range(warmup + runs):
        shift = round_number % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            if round_number < warmup:
                run_once(variant, env)
            else:
                _record(samples[variant.name], run_once(variant, env).stdout)
    return samples


def _record(samples: Samples, stdout: str) -> None:
    if samples.variant.backend is None:
        elapsed, modules = stdout.split()
        samples.nanoseconds.append(int(elapsed))
        samples.modules.add(int(modules))
        return
    init_ns, request_ns, modules = first_request.parse(stdout)
    samples.init_ns.append(init_ns)
    samples.request_ns.append(request_ns)
    samples.nanoseconds.append(init_ns + request_ns)
    samples.modules.add(modules)


@dataclass(frozen=True)
class Imported:
    """One line of ``python -X importtime``: a module, its own and cumulative time, who imported it."""

    name: str
    self_us: int
    cumulative_us: int
    parents: tuple[str, ...]  # outermost first

    @property
    def package(self) -> str:
        return self.name.split(".")[0]


def parse_importtime(stderr: str) -> list[Imported]:
    """The importtime lines, with each module's chain of importers (the output is post-order)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, label = line.removeprefix("import time:").split("|", 2)
        name = label.lstrip(" ")
        depth = (len(label) - len(name) - 1) // 2
        rows.append((name.strip(), int(self_us), int(cumulative_us), depth))
    out, chain = [], []
    for name, self_us, cumulative_us, depth in reversed(rows):  # reversed post-order: parents first
        chain = [*chain[:depth], name]
        out.append(Imported(name, self_us, cumulative_us, tuple(chain[:-1])))
    return out[::-1]


def import_profile(variant: Variant, env: dict[str, str]) -> list[Imported]:
    """python -X importtime for one run of the variant's imports."""
    return parse_importtime(run_once(variant, env, "-X", "importtime").stderr)


def _ours(name: str) -> bool:
    return name == "app" or name.split(".")[0] == "functions"


@dataclass(frozen=True)
class Offender:
    package: str
    modules: int
    self_us: int
    pulled_in_by: tuple[str, ...]  # e.g. "functions.core.auth (via jwt)"


def beyond_floor(app: list[Imported], floor: list[Imported]) -> list[Offender]:
    """What app imports that the floor does not, by top-level package, with the billow module that
    first pulls each package in. Slowest first."""
    in_floor = {row.name for row in floor}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    importers: dict[str, dict[str, None]] = defaultdict(dict)
    for row in app:
        if row.name in in_floor:
            continue
        totals[row.package][0] += 1
        totals[row.package][1] += row.self_us
        if _ours(row.name) or any(p.split(".")[0] == row.package for p in row.parents):
            continue  # our own modules, or a package importing its own submodules
        ours = [i for i, parent in enumerate(row.parents) if _ours(parent)]
        if ours:
            i = ours[-1]
            via = row.parents[i + 1].split(".")[0] if i + 1 < len(row.parents) else None
            label = row.parents[i] + (f" (via {via})" if via and via != row.package else "")
            importers[row.package][label] = None
    return sorted(
        (Offender(top, n, us, tuple(importers[top])) for top, (n, us) in totals.items()),
        key=lambda o: -o.self_us,
    )


@dataclass
class ColdStartReport:
    runs: int
    floor: Samples
    floor_pydantic: Samples
    app: Samples
    app_no_bytecode: Samples
    first: Samples  # app + its first authenticated request
    offenders: list[Offender]
    app_profile_total_us: int
    our_modules: list[Imported]  # billow's own modules, slowest self time first
    load_average: tuple[float, float, float]
    baseline: Samples | None = None  # --baseline: that package's app
    baseline_first: Samples | None = None

    @property
    def init_over_floor(self) -> float:
        return self.app.median_ms / self.floor.median_ms

    @property
    def init_over_floor_pydantic(self) -> float:
        return self.app.median_ms / self.floor_pydantic.median_ms

    @property
    def no_bytecode_over_bytecode(self) -> float:
        return self.app_no_bytecode.median_ms / self.app.median_ms


def run(zip_path: Path, sam_path: Path, runs: int, baseline: Path | None = None) -> ColdStartReport:
    load_average = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="billow-bench-") as scratch_name:
        scratch = Path(scratch_name)
        with_pyc = unpack(zip_path, scratch / "task", bytecode=True)
        without_pyc = unpack(zip_path, scratch / "task-no-bytecode", bytecode=False)
        env = lambda_env(sam_path, with_pyc, scratch)
        floor = Variant("floor", with_pyc, FLOOR_IMPORTS)
        floor_pydantic = Variant("floor + pydantic", with_pyc, FLOOR_IMPORTS + PYDANTIC_IMPORTS)
        app = Variant("app", with_pyc, APP_IMPORTS)
        app_no_pyc = Variant("app, no bytecode", without_pyc, APP_IMPORTS)
        with first_request.backend(env) as backend:
            variants = [floor, app, app_no_pyc, floor_pydantic, Variant("app + 1st request", with_pyc, (), backend)]
            if baseline is not None:
                old = unpack(baseline, scratch / "baseline", bytecode=True)
                variants += [Variant("baseline app", old, APP_IMPORTS), Variant("baseline + 1st req", old, (), backend)]
            samples = measure(variants, env, runs)
        app_profile = import_profile(app, env)
        offenders = beyond_floor(app_profile, import_profile(floor, env))
        if any(without_pyc.rglob("*.pyc")):
            raise RuntimeError("the no-bytecode tree gained bytecode during the runs")
    return ColdStartReport(
        runs=runs,
        floor=samples[floor.name],
        floor_pydantic=samples[floor_pydantic.name],
        app=samples[app.name],
        app_no_bytecode=samples[app_no_pyc.name],
        first=samples["app + 1st request"],
        offenders=offenders,
        app_profile_total_us=sum(row.self_us for row in app_profile),
        our_modules=sorted((row for row in app_profile if _ours(row.name)), key=lambda row: -row.self_us),
        load_average=load_average,
        baseline=samples.get("baseline app"),
        baseline_first=samples.get("baseline + 1st req"),
    )


def default_paths(root: Path) -> tuple[Path, Path]:
    """The API function's zip (build/package/manifest.json names it) and the sam.json next to it."""
    from bench.packages import api_zip

    out = root / "build" / "package"
    return api_zip(out), out / "sam.json"


def _modules(samples: Samples) -> str:
    return "/".join(str(n) for n in sorted(samples.modules))


def _beyond(extra: int) -> str:
    return f"{extra} beyond the floor" if extra >= 0 else f"{-extra} fewer than the floor"


def _first_request_lines(report: ColdStartReport) -> list[str]:
    """init + the first request (its two parts apart), against the baseline package's when measured."""

    def parts(s: Samples) -> str:
        return f"{s.median_ms:.0f} ms (init {s.init_median_ms:.0f} + request {s.request_median_ms:.0f})"

    line = f"  init + 1st request {parts(report.first)}"
    if report.baseline_first is None:
        return [line + "   (no --baseline package: compare with docs/performance.md)"]
    ratio = report.first.median_ms / report.baseline_first.median_ms
    verdict = "met" if ratio <= 1.0 else "NOT met"
    assert report.baseline is not None
    return [
        line,
        f"    baseline         {parts(report.baseline_first)}; baseline cold init / floor "
        f"{report.baseline.median_ms / report.floor.median_ms:.2f}x",
        f"  init + 1st request / baseline's  {ratio:.2f}x   goal <= 1.00x: {verdict}",
    ]


def format_report(report: ColdStartReport, zip_path: Path, top: int = 10) -> str:
    lines = [
        f"API cold init: {zip_path} ({zip_path.stat().st_size / 2**20:.1f} MiB), "
        f"{report.runs} fresh processes per variant, interleaved",
        f"  {sys.implementation.cache_tag}, {os.cpu_count()} CPUs, load average before the runs "
        + " ".join(f"{x:.2f}" for x in report.load_average),
        "",
        f"  {'variant':<20} {'median ms':>10} {'min':>8} {'max':>8} {'modules':>8}",
    ]
    rows = [report.floor, report.app, report.app_no_bytecode, report.floor_pydantic, report.first]
    rows += [s for s in (report.baseline, report.baseline_first) if s is not None]
    for samples in rows:
        lines.append(
            f"  {samples.variant.name:<20} {samples.median_ms:>10.1f} {samples.min_ms:>8.1f} "
            f"{samples.max_ms:>8.1f} {_modules(samples):>8}"
        )
    verdict = "met" if report.init_over_floor <= GOAL else "NOT met"
    extra = len(report.app.modules) == 1 and len(report.floor.modules) == 1
    lines += [
        "",
        f"  cold init / floor  {report.init_over_floor:.2f}x   goal <= {GOAL:.2f}x: {verdict}",
        *_first_request_lines(report),
        f"  no bytecode / bytecode         {report.no_bytecode_over_bytecode:5.2f}x",
        f"  cold init / (floor + pydantic) {report.init_over_floor_pydantic:5.2f}x   (for information)",
        f"  modules imported by `import app`: {_modules(report.app)}"
        + (f" ({_beyond(min(report.app.modules) - min(report.floor.modules))})" if extra else ""),
        "",
        "  beyond the floor, by top-level package (python -X importtime, one run, self time; inflated by",
        "  the instrumentation, so read it as shares):",
    ]
    total = sum(o.self_us for o in report.offenders) or 1
    for o in report.offenders[:top]:
        who = ", ".join(o.pulled_in_by)
        lines.append(
            f"    {o.package:<22} {o.modules:>4} modules {o.self_us / 1000:>7.1f} ms {100 * o.self_us / total:>5.1f}%"
            + (f"  <- {who}" if who else "")
        )
    lines.append(
        f"    {'all beyond the floor':<22} {sum(o.modules for o in report.offenders):>4} modules "
        f"{total / 1000:>7.1f} ms of {report.app_profile_total_us / 1000:.1f} ms for the whole import"
    )
    slowest = ", ".join(f"{row.name} {row.self_us / 1000:.1f}" for row in report.our_modules[:5])
    lines.append(f"  billow's slowest modules (self ms): {slowest}")
    return "\n".join(lines)
