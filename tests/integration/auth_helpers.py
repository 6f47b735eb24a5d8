"""Forged and broken bearer tokens (DESIGN §2 Auth), shared by tests/integration/test_auth.py and the
authorization matrix of the proof suite (tests/proof/test_auth_matrix.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local import tokens

# Authorization headers that are not "Bearer <a JWT>".
MALFORMED_HEADERS = ("Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "token")


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims(sub: str, scopes: Iterable[str]) -> dict[str, Any]:
    """Claims the test issuer would sign: right issuer and audience, valid for ten minutes."""
    return {
        "sub": sub,
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "exp": int(time.time()) + 600,
        "scope": " ".join(f"{tokens.SCOPE_PREFIX}{s}" for s in scopes),
    }


def alg_none_token(sub: str, scopes: Iterable[str]) -> str:
    """An unsigned token (`alg: none`) with the issuer's kid and otherwise valid claims."""
    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': tokens.KID})}.{b64(claims(sub, scopes))}."


def hs256_with_public_key(key: rsa.RSAPrivateKey, sub: str, scopes: Iterable[str]) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the issuer's public key (PEM)."""
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64({"alg": "HS256", "typ": "JWT", "kid": tokens.KID})
    body = b64(claims(sub, scopes))
    sig = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"


@lru_cache(maxsize=1)
def _other_key() -> rsa.RSAPrivateKey:
    return tokens.generate_private_key()


def signed_by_another_key(sub: str, scopes: Iterable[str], **kwargs: Any) -> str:
    """A well-formed RS256 token with the issuer's kid, signed by a key that is not the issuer's."""
    return tokens.mint(_other_key(), sub, list(scopes), **kwargs)
