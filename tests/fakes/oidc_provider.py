"""A fake OpenID Connect provider on 127.0.0.1 (port 0): discovery, JWKS, an authorisation
endpoint that signs the chosen person in at once, and a token endpoint that exchanges a code
once for RS256-signed tokens, the way Slack's and Entra ID's do. It can be told to misbehave as
a hostile or broken provider would: another issuer, another audience, a nonce that is not the
one sent, a token signed with a key that is not in its JWKS."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID, CLIENT_SECRET = "console-client", "console-secret"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeOpenID:
    """`user` holds the claims of whoever signs in next (e.g. Slack's user and team claims)."""

    user: dict[str, Any] = field(default_factory=dict)
    issuer_override: str = ""
    audience_override: str = ""
    nonce_override: str = ""
    sign_with_foreign_key: bool = False
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key, self.foreign = _key(), _key()
        self.kid = "fake-1"

    def start(self) -> FakeOpenID:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                provider.handle_get(self)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                provider.handle_token(self, self.rfile.read(length).decode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # --- endpoints ------------------------------------------------------------------------------
    def handle_get(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        if url.path == "/.well-known/openid-configuration":
            return _json(handler, {
                "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]})
        if url.path == "/jwks":
            jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
            return _json(handler, {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]})
        if url.path == "/authorize":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                return _json(handler, {"error": "invalid_request"}, 400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": query.get("nonce", ""), "redirect_uri": query["redirect_uri"],
                                "user": dict(self.user)}
            target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
            handler.send_response(302)
            handler.send_header("Location", target)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        return _json(handler, {"error": "not_found"}, 404)

    def handle_token(self, handler: BaseHTTPRequestHandler, body: str) -> None:
        form = {k: v[0] for k, v in parse_qs(body).items()}
        self.token_requests.append(form)
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
            return _json(handler, {"error": "invalid_client"}, 401)
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return _json(handler, {"error": "invalid_grant"}, 400)
        now = int(time.time())
        claims = {"iss": self.issuer_override or self.issuer, "aud": self.audience_override or CLIENT_ID,
                  "sub": grant["user"].get("sub", "subject"), "iat": now, "exp": now + 300,
                  "nonce": self.nonce_override or grant["nonce"], **grant["user"]}
        key = self.foreign if self.sign_with_foreign_key else self.key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
        return _json(handler, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                               "expires_in": 300, "id_token": id_token})


def _json(handler: BaseHTTPRequestHandler, body: dict[str, Any], status: int = 200) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
