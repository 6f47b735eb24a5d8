"""Build `_billow_keep_arenas` (local/keep_arenas.c) into the project's venvs, imported at every start.

    python -m local.keep_arenas VENV [VENV ...]     # make test does this for .venv and .venv/infra-tools

CPython 3.11 maps and unmaps a 16 KiB chunk of its frame stack each time a call goes deeper than the
chunks so far hold and returns: deep stacks that swing across a chunk's edge (botocore, moto, hypothesis
and pytest together) did so thousands of times a second, and 13-15 % of the test suite's CPU time went
to the kernel (mmap, munmap and the page faults of every fresh chunk). The extension keeps freed chunks
and pymalloc arenas for reuse (its header comment says how); a `.pth` file imports it in every Python
process the venv starts: the pytest workers, each local stack, the `billow` CLI, cfn-lint and checkov.
`-I -S` runs (the Lambda import checks and the cold-start benchmark) read no .pth and go without it.

BILLOW_KEEP_ARENAS=0 in the environment turns it off for a process (`make bench` does, so that its
figures are the ones Lambda's Python gives). The compiler is the one Python was built with (sysconfig's
CC, usually gcc) and the headers are the interpreter's own; the build fails with the command it ran.
docs/performance.md ("The test suite's time") has the measurements.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

SOURCE = Path(__file__).with_name("keep_arenas.c")
REPO = SOURCE.parents[1]
MODULE = "_billow_keep_arenas"
PTH_NAME = "billow-keep-arenas.pth"
# A .pth line that starts with "import" is executed at startup; a failing import there prints a traceback
# and the process goes on without the module.
PTH_LINE = f"import os; os.environ.get('BILLOW_KEEP_ARENAS') == '0' or __import__({MODULE!r})\n"


def _venv_paths(venv: Path) -> tuple[Path, str]:
    """(site-packages, extension suffix) of the venv's interpreter."""
    query = "import sysconfig; print(sysconfig.get_paths()['purelib']); print(sysconfig.get_config_var('EXT_SUFFIX'))"
    out = subprocess.run([str(venv / "bin" / "python"), "-c", query], capture_output=True, text=True, check=True)
    purelib, suffix = out.stdout.split()
    return Path(purelib), suffix


def compile_command(target: Path) -> list[str]:
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    return [*cc, "-O2", "-shared", "-fPIC", "-pthread", f"-I{include}", str(SOURCE), "-o", str(target)]


def build(venvs: list[Path]) -> list[Path]:
    """Compile the extension once (with this interpreter's headers) and put it, with its .pth, in each
    venv whose interpreter has the same extension suffix; returns the files written."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    built = REPO / "build" / "keep-arenas" / f"{MODULE}{suffix}"
    built.parent.mkdir(parents=True, exist_ok=True)
    command = compile_command(built)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"could not compile {SOURCE.name}: {shlex.join(command)}\n{result.stderr}"
            "It needs a C compiler and Python's headers (Debian: gcc; pyenv's and python.org's builds have"
            " the headers). Without it the suite runs, more slowly: BILLOW_KEEP_ARENAS=0 make test."
        )
    written = []
    for venv in venvs:
        site, venv_suffix = _venv_paths(venv)
        if venv_suffix != suffix:
            raise SystemExit(f"{venv}: its Python's extensions end in {venv_suffix}, not {suffix}")
        for name, content in ((built.name, built.read_bytes()), (PTH_NAME, PTH_LINE.encode())):
            # a new file renamed over the old one: running processes (this one too) have the old one mapped,
            # and rewriting a loaded shared object in place crashes them
            target = site / name
            partial = target.with_name(f".{name}.partial")
            partial.write_bytes(content)
            os.replace(partial, target)
            written.append(target)
    return written


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    for path in build([Path(a) for a in argv]):
        print(f"keep-arenas: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
