"""The local stack started the way `make run` starts it: `python -m local.run` in a subprocess, on free
loopback ports, with its state (.local) in a temp dir, and a clean environment (none of the test
suite's BILLOW_* / AWS_* settings leak into it)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90  # the demo seeding takes ~10 s idle; a loaded 2-core CI machine (make test: three workers) is slower


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports: every socket stays bound until all are picked (a port
    closed at once can be handed out again: moto and the API once got the same one)."""
    with ExitStack() as held:
        sockets = [held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def port_is_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port and a new server could bind it right away (as every server
    here does, with SO_REUSEADDR: connections closed by the stopped server may still be in TIME_WAIT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def clean_env(**extra: str) -> dict[str, str]:
    """The user's environment without the suite's settings (AWS_*, BILLOW_*), plus `extra`. A moved
    calendar (BILLOW_TODAY, `make test-dates`) is the user's too: it reaches the stack and the CLI, as does
    BILLOW_KEEP_ARENAS (local/keep_arenas.py)."""
    users = ("BILLOW_TODAY", "BILLOW_KEEP_ARENAS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BILLOW_")) or k in users}
    env.update(extra)
    return env


@dataclass
class LocalStack:
    process: subprocess.Popen
    local_dir: Path
    log: Path
    ports: dict[str, int]
    info: dict[str, Any]

    @property
    def api(self) -> str:
        return self.info["api_url"]

    @property
    def env(self) -> dict[str, str]:
        """The environment a user's shell would have next to this stack (for the billow CLI)."""
        return clean_env(BILLOW_LOCAL_DIR=str(self.local_dir))

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str, token: str | None = None, **headers: str) -> requests.Response:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(f"{self.api}{path}", headers=headers, timeout=30)

    def stop(self, timeout: float = 10) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


@pytest.fixture(scope="module")
def local_stack(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[LocalStack]:
    """A module's own stack; or, in a module that sets `SHARED_STACK = True`, the one stack those modules
    share (`shared_local_stack`, tests/conftest.py): each works on accounts it creates, so none sees
    another's, and they sit in one xdist group, so one worker starts it once instead of once a module."""
    if getattr(request.module, "SHARED_STACK", False):
        yield request.getfixturevalue("shared_local_stack").get()
        return
    with start_local_stack(tmp_path_factory) as stack:
        yield stack


class SharedStack:
    """The stack of the `SHARED_STACK` modules: started on first use, started again if a test stopped
    it, stopped at the end of the session."""

    def __init__(self, tmp_path_factory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self._running: ExitStack | None = None
        self._stack: LocalStack | None = None

    def get(self) -> LocalStack:
        if self._stack is None or self._stack.process.poll() is not None:
            self.close()
            self._running = ExitStack()
            self._stack = self._running.enter_context(start_local_stack(self.tmp_path_factory))
        return self._stack

    def close(self) -> None:
        if self._running is not None:
            self._running.close()
        self._running, self._stack = None, None


@contextmanager
def start_local_stack(tmp_path_factory, **extra_env: str) -> Iterator[LocalStack]:
    """`python -m local.run` on free ports, until it prints Ready; stopped (SIGINT) on exit."""
    local_dir = tmp_path_factory.mktemp("billow-local")
    names = ("moto", "api", "jwks", "stripe", "console", "receiver")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    env = clean_env(
        BILLOW_LOCAL_DIR=str(local_dir),
        BILLOW_MOTO_PORT=str(ports["moto"]),
        BILLOW_API_PORT=str(ports["api"]),
        BILLOW_JWKS_PORT=str(ports["jwks"]),
        BILLOW_STRIPE_PORT=str(ports["stripe"]),
        BILLOW_CONSOLE_PORT=str(ports["console"]),
        BILLOW_CONSOLE_CONFIG=str(local_dir / "console-config.json"),  # never the repo's console/config.json
        BILLOW_RECEIVER_PORT=str(ports["receiver"]),
        PYTHONUNBUFFERED="1",
        **extra_env,
    )
    log = local_dir / "run.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.run"], cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    stack_file = local_dir / "stack.json"
    deadline = time.monotonic() + START_TIMEOUT
    info = None
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the local stack exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            if stack_file.exists() and "Ready." in log.read_text(errors="replace"):
                info = json.loads(stack_file.read_text())
                break
            time.sleep(0.1)
        if info is None:
            pytest.fail(f"the local stack was not ready in {START_TIMEOUT}s:\n{log.read_text()[-4000:]}")
        stack = LocalStack(process=process, local_dir=local_dir, log=log, ports=ports, info=info)
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
