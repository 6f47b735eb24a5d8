"""Bearer-token verification: RS256 only, signature against the issuer's JWKS (cached), iss, exp,
and aud or Cognito's client_id. Identity is `sub`; scopes come from `scope`, prefix stripped.

Defence in depth (issue 14 hole 8): a token whose `token_use` claim is present must be an `access`
token (a Cognito ID token of the same pool is refused: it is not meant for APIs); in a deployed stage
(BILLOW_STAGE other than local and test) a scope counts only with the configured prefix (`billow/`):
an unprefixed `billing:admin` may be some other resource server's scope of the same name.

Account access is not decided here: a members record does that (functions/accounts/service.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from functions.core.errors import UnauthorizedError
from functions.core.settings import get_settings

if TYPE_CHECKING:
    from jwt import PyJWKClient

# PyJWT (and cryptography under it) is imported on the first verified request, not at cold start.

READ = "billing:read"
WRITE = "billing:write"
ADMIN = "billing:admin"
USAGE = "billing:usage"
SCOPES = (READ, WRITE, ADMIN, USAGE)

# Clock skew tolerated on exp/iat/nbf, in seconds.
LEEWAY = 30
# The only `token_use` accepted when the claim is present (Cognito also issues "id" tokens).
ACCESS_TOKEN_USE = "access"  # noqa: S105 - a claim value, not a secret
# Stages where a scope without the configured prefix still counts (local tools and tests).
UNPREFIXED_SCOPE_STAGES = ("local", "test")


@dataclass(frozen=True)
class Identity:
    sub: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes


@lru_cache(maxsize=1)
def _jwks_client() -> PyJWKClient:
    from jwt import PyJWKClient

    settings = get_settings()
    if not settings.jwks_url:
        raise RuntimeError("BILLOW_JWKS_URL is not set")
    return PyJWKClient(settings.jwks_url, cache_jwk_set=True, lifespan=settings.jwks_cache_seconds, timeout=5)


def reset_jwks_cache() -> None:
    _jwks_client.cache_clear()


def _invalid(why: str) -> UnauthorizedError:
    return UnauthorizedError(f"the bearer token is not valid: {why}", code="invalid-token")


def authenticate(authorization: str | None) -> Identity:
    """The caller's identity from an `Authorization: Bearer <JWT>` header, or UnauthorizedError."""
    import jwt

    if not authorization:
        raise UnauthorizedError("send an Authorization: Bearer <token> header", code="missing-token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _invalid("the Authorization header must be 'Bearer <token>'")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise _invalid("it is not a JWT") from None
    if header.get("alg") != "RS256":
        raise _invalid("only RS256-signed tokens are accepted")
    try:
        key = _jwks_client().get_signing_key_from_jwt(token)
    except (jwt.PyJWKClientError, jwt.InvalidTokenError):
        raise _invalid("its signing key is not one of the issuer's") from None
    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=settings.jwt_issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise _invalid("it has expired") from None
    except jwt.InvalidIssuerError:
        raise _invalid("it was issued by another issuer") from None
    except jwt.InvalidSignatureError:
        raise _invalid("its signature does not verify") from None
    except jwt.InvalidTokenError as exc:
        raise _invalid(type(exc).__name__) from None
    if not _audience_ok(claims, settings.jwt_audiences):
        raise _invalid("it was issued for another audience")
    if "token_use" in claims and claims["token_use"] != ACCESS_TOKEN_USE:
        raise _invalid("it is not an access token")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _invalid("it has no subject")
    prefixed_only = settings.stage not in UNPREFIXED_SCOPE_STAGES
    return Identity(sub=sub, scopes=frozenset(_scopes(claims.get("scope"), settings.scope_prefix, prefixed_only)))


def _audience_ok(claims: dict, audiences: tuple[str, ...]) -> bool:
    aud = claims.get("aud")
    if aud is not None:
        values = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
        return any(v in audiences for v in values)
    # Cognito access tokens carry no aud, but the app client's id in client_id.
    return claims.get("client_id") in audiences


def _scopes(scope: object, prefix: str, prefixed_only: bool) -> set[str]:
    """billow's scopes in `scope`, the prefix stripped; with `prefixed_only`, only those that carry it."""
    if not isinstance(scope, str):
        return set()
    out = set()
    for raw in scope.split():
        if prefix and raw.startswith(prefix):
            name = raw[len(prefix) :]
        elif prefixed_only and prefix:
            continue
        else:
            name = raw
        if name in SCOPES:
            out.add(name)
    return out
