"""botocore sessions that share one data loader (imported for its effect by functions/core/db.py).

PynamoDB gives every table's connection (one per model class, per thread) a new botocore session, and
boto3 makes a new default session whenever one is dropped (moto drops it for every mocked test). Each
new session loads botocore's JSON again: endpoints.json, the service model and its endpoint rules —
~0.1 s idle and ~1 s on a loaded machine, for every table and client a Lambda container touches first,
and for every model in every test. Sessions stay separate as PynamoDB wants (client creation is not
thread-safe), but they share one `Loader`, whose caches make each file's load once per process.
`get_session` builds exactly what botocore's own does (`Session(env_vars)`, whose lazily registered
loader is `create_loader(data_path)`), so AWS_DATA_PATH is honoured the same way.
"""

from __future__ import annotations

from typing import Any

import botocore.loaders
import botocore.session
import pynamodb.connection.base

_LOADER: botocore.loaders.Loader | None = None


def get_session(env_vars: Any = None) -> botocore.session.Session:
    global _LOADER
    session = botocore.session.Session(env_vars)
    if _LOADER is None:
        _LOADER = botocore.loaders.create_loader(session.get_config_variable("data_path"))
    session.register_component("data_loader", _LOADER)
    return session


# boto3 (default and new sessions) calls botocore.session.get_session(); PynamoDB imported the name itself.
botocore.session.get_session = get_session
pynamodb.connection.base.get_session = get_session  # type: ignore[attr-defined]
