"""The MCP endpoint as an OAuth 2.1 resource server (MCP authorization spec; docs/security/oauth-mcp.md).

- RFC 9728 protected-resource metadata at `/.well-known/oauth-protected-resource/mcp` (where the
  401's `WWW-Authenticate: Bearer resource_metadata=...` points), naming the authorization server:
  the configured issuer (`SIS_OAUTH_ISSUER`), else this server itself, whose RFC 8414 metadata then
  describes its client-credentials token endpoint (`POST /oauth/token`, an API key as the client).
- Access tokens from the configured issuer are JWTs checked against the issuer's JWKS: signature,
  `iss`, `aud` (this server's MCP resource, or `SIS_OAUTH_AUDIENCE`), `exp`/`nbf`, and a verified
  `email` naming an active user. Their `scope` (or `scp`) maps to the key scopes `sis.read`,
  `sis.write`, `audit.read`, which only narrow what the user's roles allow. API keys and this
  server's own tokens stay accepted as bearer tokens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from domain.errors import NotFound
from mcp_server.auth import AuthenticationFailed
from policies.principal import TOKEN_SCOPES, AuthMethod, Principal, load_principal

MCP_SCOPES = ("sis.read", "sis.write", "audit.read")
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
# How long the issuer's discovery document and keys are reused (a key not found forces a refresh).
JWKS_SECONDS = 300


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith("sis_")


@dataclass
class JwtVerifier:
    """Verifies access tokens of one issuer; keys fetched from its JWKS (OpenID discovery, or jwks_url)."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    timeout_s: float = 5.0
    _client: jwt.PyJWKClient | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _keys(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                url = self.jwks_url
                if url is None:
                    discovery = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
                    answer = httpx.get(discovery, timeout=self.timeout_s)
                    answer.raise_for_status()
                    url = str(answer.json()["jwks_uri"])
                self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=JWKS_SECONDS, timeout=int(self.timeout_s))
            return self._client

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once signature, issuer, audience and times check out.

        Raises:
            AuthenticationFailed: any check fails, or the issuer's keys cannot be fetched.
        """
        try:
            key = self._keys().get_signing_key_from_jwt(token)
            decoded: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
                leeway=30,
            )
        except jwt.InvalidAudienceError:
            raise AuthenticationFailed(
                f"the access token is not for this server (audience must be {self.audience})"
            ) from None
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed("the access token has expired") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationFailed(f"the access token was not issued by {self.issuer}") from None
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, ValueError) as err:
            raise AuthenticationFailed(f"the access token is not valid ({type(err).__name__})") from None
        return decoded

    def principal(self, session: Session, token: str) -> Principal:
        """The active user the token names by verified email, narrowed to the token's scopes.

        Raises:
            AuthenticationFailed: invalid token, no verified email, no known scope, or no active user.
        """
        claims = self.claims(token)
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is False:
            raise AuthenticationFailed("the access token carries no verified email")
        granted = claims.get("scope", claims.get("scp", ""))
        names = granted.split() if isinstance(granted, str) else list(granted or [])
        scopes = tuple(s for s in MCP_SCOPES if s in names and s in TOKEN_SCOPES)
        if not scopes:
            raise AuthenticationFailed(f"the access token grants none of the scopes {', '.join(MCP_SCOPES)}")
        try:
            principal = load_principal(session, email=email, auth_method=AuthMethod.BEARER)
        except NotFound:
            raise AuthenticationFailed(f"no active user {email} on this server") from None
        client = claims.get("client_id") or claims.get("azp") or claims.get("sub")
        return replace(principal, token_scopes=scopes, api_key_prefix=_label(client))


def _label(client: object) -> str | None:
    """A short, loggable name for the OAuth client (never the token)."""
    return None if client is None else f"oauth:{str(client)[:40]}"


def resource_metadata(public_url: str, issuer: str | None) -> dict[str, Any]:
    """RFC 9728: what the MCP resource is and which authorization server issues its tokens."""
    return {
        "resource": f"{public_url}/mcp",
        "authorization_servers": [issuer or public_url],
        "scopes_supported": list(MCP_SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "SIS MCP server",
        "resource_documentation": f"{public_url}/docs",
    }


def authorization_server_metadata(public_url: str) -> dict[str, Any]:
    """RFC 8414 for this server as its own authorization server: client credentials with an API key."""
    return {
        "issuer": public_url,
        "token_endpoint": f"{public_url}/oauth/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": list(MCP_SCOPES),
        "response_types_supported": [],
    }


def install(app: FastAPI, *, public_url: str, issuer: str | None) -> None:
    """Serve the metadata documents at the root (the MCP app itself is mounted under /mcp)."""

    def resource() -> JSONResponse:
        return JSONResponse(resource_metadata(public_url, issuer), headers={"Cache-Control": "max-age=300"})

    app.add_api_route("/.well-known/oauth-protected-resource/mcp", resource, include_in_schema=False)
    app.add_api_route("/.well-known/oauth-protected-resource", resource, include_in_schema=False)
    if issuer is None:

        def server() -> JSONResponse:
            return JSONResponse(authorization_server_metadata(public_url), headers={"Cache-Control": "max-age=300"})

        app.add_api_route("/.well-known/oauth-authorization-server", server, include_in_schema=False)
