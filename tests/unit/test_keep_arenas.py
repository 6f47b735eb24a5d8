"""local/keep_arenas.c: every process of the venv reuses the frame-stack chunks and arenas CPython frees,
instead of mapping fresh ones from the kernel (make test builds it: `make keep-arenas`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig

from local import keep_arenas

_PROBE = """
import json, resource, sys
import _billow_keep_arenas as keep

def down(n):
    return down(n - 1) if n else 0

down(150)  # the chunk past the first one, taken and freed once
before, faults = keep.stats(), resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
for _ in range(int(sys.argv[1])):
    down(150)
after = keep.stats()
print(json.dumps({
    "reused": after["reused"] - before["reused"],
    "fresh": after["fresh"] - before["fresh"],
    "faults": resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - faults,
    "stats": after,
}))
"""


def _probe(calls: int, **env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(calls)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _loaded_in_a_new_python(**env: str) -> bool:
    """Whether a Python the venv starts (with `env` added) has the module loaded, by its .pth alone."""
    started = subprocess.run(
        [sys.executable, "-c", "import sys; print('_billow_keep_arenas' in sys.modules)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return started.stdout.strip() == "True"


def test_this_process_and_every_python_the_venv_starts_load_it():
    assert "_billow_keep_arenas" in sys.modules, f"make keep-arenas has not run for {sys.prefix}"
    assert _loaded_in_a_new_python()


def test_a_call_that_goes_one_chunk_deeper_again_and_again_reuses_the_chunk_and_maps_nothing():
    probe = _probe(2_000)
    # each call takes the second 16 KiB chunk of the frame stack and frees it on return: all reused
    assert probe["reused"] >= 2_000 and probe["fresh"] == 0, probe
    # without the module each of them is an mmap, page faults on its first touch, and a munmap
    assert probe["faults"] < 100, probe


def test_the_switch_leaves_cpython_as_it_is():
    """BILLOW_KEEP_ARENAS=0 (make bench: figures as Lambda's Python gives them)."""
    assert not _loaded_in_a_new_python(BILLOW_KEEP_ARENAS="0")


def test_what_is_kept_stays_within_its_budget_and_the_rest_goes_back():
    probe = _probe(10, BILLOW_KEEP_ARENAS_BYTES="0")  # nothing may be kept
    stats = probe["stats"]
    assert stats["budget"] == 0 and stats["kept_bytes"] == 0, stats
    assert stats["returned"] >= 10 and probe["reused"] == 0, probe


def test_the_build_compiles_with_this_interpreter_s_headers(tmp_path):
    command = keep_arenas.compile_command(tmp_path / "probe.so")
    assert f"-I{sysconfig.get_paths()['include']}" in command
    assert str(keep_arenas.SOURCE) in command
    subprocess.run(command, check=True, capture_output=True)
    assert (tmp_path / "probe.so").stat().st_size > 0
