"""A local JWT issuer: an RS256 key pair, its JWKS, and tokens shaped like Cognito's access tokens."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "billow-local-1"
ISSUER = "http://127.0.0.1/billow-local"
AUDIENCE = "billow-console"
SCOPE_PREFIX = "billow/"


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def jwks(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return {"keys": [public]}


def mint(
    key: rsa.RSAPrivateKey,
    sub: str,
    scopes: list[str],
    *,
    ttl: int = 3600,
    issuer: str = ISSUER,
    audience: str | None = AUDIENCE,
    kid: str = KID,
    extra: dict[str, Any] | None = None,
) -> str:
    """A signed access token; scopes get the resource-server prefix, as Cognito writes them."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
        "scope": " ".join(f"{SCOPE_PREFIX}{s}" for s in scopes),
        "token_use": "access",
    }
    if audience is not None:
        claims["aud"] = audience
    claims.update(extra or {})
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
