"""Who is calling: API keys (``Authorization: Bearer smmu_…``) and, when configured, OIDC/JWT bearer tokens.

Both answer a ``Caller`` with the tenant every route scopes its work to; anything else is 401 with
``WWW-Authenticate: Bearer`` and a one-line reason (never a trace).
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from smmu.keys import is_tenant_id
from smmu.tenants import TOKEN_PREFIX, ApiKeyStore


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    #: The API key's id or the token's subject, for logs.
    subject: str
    method: str


class Unauthenticated(Exception):
    """No credential, or one that does not hold; the message says which, without details an attacker can use."""


@lru_cache
def _jwks(url: str) -> jwt.PyJWKClient:
    # Keys are cached and refetched when a token names a key id not yet seen (rotation).
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=600, timeout=5)


@dataclass(frozen=True)
class JwtVerifier:
    jwks_url: str
    issuer: str | None
    audience: str | None
    tenant_claim: str
    algorithms: tuple[str, ...]

    def verify(self, token: str) -> Caller:
        try:
            key = _jwks(self.jwks_url).get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=list(self.algorithms),
                issuer=self.issuer,
                # The audience is checked below: Cognito access tokens name it in client_id, not aud.
                options={"require": ["exp", "sub"] + (["iss"] if self.issuer else []), "verify_aud": False},
                leeway=30,
            )
            self._check_audience(claims)
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("the token is not meant for this API (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("the token comes from an issuer this API does not trust") from exc
        except jwt.PyJWKClientConnectionError as exc:
            raise Unauthenticated("the token's signing keys cannot be fetched") from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise Unauthenticated("the token is not valid") from exc
        tenant = claims.get(self.tenant_claim)
        if not isinstance(tenant, str) or not is_tenant_id(tenant):
            raise Unauthenticated(f"the token has no usable {self.tenant_claim!r} claim")
        return Caller(tenant_id=tenant, subject=str(claims["sub"]), method="jwt")

    def _check_audience(self, claims: dict[str, Any]) -> None:
        if self.audience is None:
            return
        named = claims.get("aud", claims.get("client_id"))
        audiences = named if isinstance(named, list) else [named]
        if self.audience not in audiences:
            raise jwt.InvalidAudienceError("audience")


def authenticate(token: str | None, keys: ApiKeyStore, jwt_verifier: JwtVerifier | None) -> Caller:
    if not token:
        raise Unauthenticated("authentication required: send 'Authorization: Bearer <API key or token>'")
    if token.startswith(TOKEN_PREFIX):
        key = keys.authenticate(token)
        if key is None:
            raise Unauthenticated("the API key is not valid (unknown, mistyped or revoked)")
        return Caller(tenant_id=key.tenant_id, subject=key.key_id, method="api_key")
    if jwt_verifier is not None and token.count(".") == 2:
        return jwt_verifier.verify(token)
    raise Unauthenticated("the bearer credential is neither an API key nor a token this API accepts")
