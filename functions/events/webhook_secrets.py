"""Endpoint signing secrets at rest: encrypted with KMS (the key of resources.webhook_key(); moto's KMS
in tests and on the local stack), bound to their endpoint by the encryption context, so a ciphertext
copied onto another endpoint does not decrypt. Plaintext secrets are kept in memory only, per
ciphertext, for a few minutes: a burst of deliveries costs one Decrypt per endpoint and container."""

from __future__ import annotations

import base64
import time
from functools import lru_cache
from typing import Any

from functions.core.resources import webhook_key
from functions.core.settings import get_settings

_CACHE_SECONDS = 300
_plain: dict[str, tuple[float, str]] = {}


@lru_cache(maxsize=1)
def _kms() -> Any:
    import boto3

    return boto3.client("kms", region_name=get_settings().region)


def reset_client() -> None:
    """Forget the client and the cached plaintexts (tests start a fresh moto per test)."""
    _kms.cache_clear()
    _plain.clear()


def create_key() -> str:
    """Create the key and its alias when missing (tests and the local stack; CDK creates the deployed
    one); returns the alias."""
    alias = webhook_key()
    client = _kms()
    aliases = {a["AliasName"] for a in client.list_aliases().get("Aliases", [])}
    if alias.startswith("alias/") and alias not in aliases:
        key_id = client.create_key(Description="billow webhook endpoint secrets")["KeyMetadata"]["KeyId"]
        client.create_alias(AliasName=alias, TargetKeyId=key_id)
    return alias


def encrypt(endpoint_id: str, secret: str) -> str:
    blob = _kms().encrypt(
        KeyId=webhook_key(), Plaintext=secret.encode("utf-8"), EncryptionContext={"webhook_endpoint": endpoint_id}
    )["CiphertextBlob"]
    return base64.b64encode(blob).decode("ascii")


def decrypt(endpoint_id: str, ciphertext: str) -> str:
    cached = _plain.get(ciphertext)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    plain = (
        _kms()
        .decrypt(CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext={"webhook_endpoint": endpoint_id})[
            "Plaintext"
        ]
        .decode("utf-8")
    )
    _plain[ciphertext] = (time.monotonic() + _CACHE_SECONDS, plain)
    return plain
