"""botocore sessions that share one data loader, and one DynamoDB client per thread for PynamoDB
(imported for its effect by functions/core/db.py).

PynamoDB gives every table's connection (one per model class, per thread) a new botocore session, and
boto3 makes a new default session whenever one is dropped (moto drops it for every mocked test). Each
new session loads botocore's JSON again: endpoints.json, the service model and its endpoint rules —
~0.1 s idle and ~1 s on a loaded machine, for every table and client a Lambda container touches first,
and for every model in every test. Every session shares one `Loader`, whose caches make each file's
load once per process. `get_session` builds exactly what botocore's own does (`Session(env_vars)`,
whose lazily registered loader is `create_loader(data_path)`), so AWS_DATA_PATH is honoured the same way.

PynamoDB's connections also share, per thread, one session and one client for each set of client
arguments (region, endpoint, timeouts, retries, pool size: every model of billow has the same ones), so
a request that touches ten tables builds one client, not ten sessions and ten clients (each ~10 ms of
CPU: building a session registers botocore's ~400 built-in event handlers, a client its own). botocore
does not make client creation thread-safe, which is why PynamoDB keeps its sessions per thread: so does
this. `forget_clients()` (db.reset_connections) drops them, in every thread, for the clients built after
it (tests that hook client creation, a moved endpoint). PynamoDB hooks each connection's
`_before_send` (its `extra_headers`, which billow does not set) on the client: a shared client carries
one such no-op hook per model.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.loaders
import botocore.session
import pynamodb.connection.base

_LOADER: botocore.loaders.Loader | None = None


def _with_shared_loader(session: botocore.session.Session) -> botocore.session.Session:
    global _LOADER
    if _LOADER is None:
        _LOADER = botocore.loaders.create_loader(session.get_config_variable("data_path"))
    session.register_component("data_loader", _LOADER)
    return session


def get_session(env_vars: Any = None) -> botocore.session.Session:
    return _with_shared_loader(botocore.session.Session(env_vars))


class _ClientSharingSession(botocore.session.Session):
    """A session that hands the same client to every create_client call with the same arguments."""

    def __init__(self, env_vars: Any = None) -> None:
        super().__init__(env_vars)
        self._clients: dict[tuple[Any, ...], Any] = {}

    def set_credentials(self, *args: Any, **kwargs: Any) -> None:
        """PynamoDB calls this for a model whose Meta names its own keys: on a session every table of the
        thread shares, and with a client cache keyed without them, those keys would reach other tables.
        billow's models take the environment's credentials (functions/core/db.py `meta`)."""
        raise NotImplementedError("a model with its own AWS keys needs its own session, not the shared one")

    def create_client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("config")
        options = sorted((k, repr(v)) for k, v in getattr(config, "_user_provided_options", {}).items())
        named = sorted((k, repr(v)) for k, v in kwargs.items() if k != "config")
        key = (service_name, repr(args), repr(named), repr(options))
        client = self._clients.get(key)
        # as PynamoDB does: a client whose credentials came back empty is built again, never reused
        if client is None or (client._request_signer and not client._request_signer._credentials):
            client = self._clients[key] = super().create_client(service_name, *args, **kwargs)
        return client


_local = threading.local()
_generation = 0


def pynamodb_session(env_vars: Any = None) -> botocore.session.Session:
    """The calling thread's session for PynamoDB's connections (a new one after forget_clients())."""
    session = getattr(_local, "session", None)
    if session is None or _local.generation != _generation:
        session = _with_shared_loader(_ClientSharingSession(env_vars))
        _local.session, _local.generation = session, _generation
    return session


def forget_clients() -> None:
    """PynamoDB's connections made from now on get new sessions and clients, in every thread."""
    global _generation
    _generation += 1


# boto3 (default and new sessions) calls botocore.session.get_session(); PynamoDB imported the name itself.
botocore.session.get_session = get_session
pynamodb.connection.base.get_session = pynamodb_session  # type: ignore[attr-defined]
