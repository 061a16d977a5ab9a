"""A local identity provider for tests: RS256/ES256 signers and a JWKS served over HTTP.

The server binds a port in this checkout's test range (10500-10599) on 127.0.0.1, counts the
times its key set is fetched, and publishes whichever keys the test says, so a test can rotate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PORTS = range(10500, 10600)
ISSUER = "https://idp.tally.test/"
AUDIENCE = "tally-api"


@dataclass
class Signer:
    """One signing key of the provider, known by its `kid`."""

    kid: str
    alg: str  # "RS256" or "ES256"
    private: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg == "RS256" else ECAlgorithm
        key: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**key, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        pem: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def sign(self, sub: str = "idp-user-1", **claims: Any) -> str:
        return jwt.encode(
            standard_claims(sub, **claims),
            self.private,
            algorithm=self.alg,
            headers={"kid": self.kid},
        )


def standard_claims(sub: str, **claims: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    return {key: value for key, value in {**base, **claims}.items() if value is not None}


def hs256_forged(secret: bytes, kid: str, sub: str = "idp-user-1", **claims: Any) -> str:
    """An HS256 token whose HMAC key is `secret` (e.g. a public key's PEM), made by hand:
    PyJWT itself refuses to sign HS256 with an asymmetric key."""

    def part(value: dict[str, Any]) -> bytes:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = (
        part({"alg": "HS256", "typ": "JWT", "kid": kid})
        + b"."
        + part(standard_claims(sub, **claims))
    )
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


class JwksServer:
    """`GET /jwks.json` answers the published keys; `fetches` counts the requests."""

    def __init__(self, *signers: Signer) -> None:
        self.keys: list[dict[str, Any]] = [s.jwk() for s in signers]
        self.fetches = 0
        self.status = 200
        self._lock = threading.Lock()
        self._server = self._bind()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def publish(self, *signers: Signer, extra: list[dict[str, Any]] | None = None) -> None:
        self.keys = [s.jwk() for s in signers] + list(extra or [])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"

    def _bind(self) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.fetches += 1
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        for port in PORTS:
            try:
                return ThreadingHTTPServer(("127.0.0.1", port), Handler)
            except OSError:
                continue
        raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
