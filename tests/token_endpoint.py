"""A local login host for the msal tests: HTTPS on the loopback interface, with the two
endpoints msal's client-credentials flow calls (no instance discovery).

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the tenant's OpenID configuration
  (``token_endpoint``, ``authorization_endpoint``, ``issuer``), as
  login.microsoftonline.com serves it;
- ``POST /{tenant}/oauth2/v2.0/token``: ``grant_type=client_credentials`` with ``client_id``,
  ``client_secret`` and ``scope`` in the form body. The right secret gets
  ``{token_type, expires_in, access_token}``; a wrong one the documented
  ``{error: invalid_client, error_description: "AADSTS7000215: Invalid client secret ..."}``
  with 401. ``hostile=True`` makes the error description repeat the secret it was sent
  (a login host, or a proxy in front of one, that echoes its input).

Every request is recorded (method, path, form), so a test can check that a real HTTP
exchange took place. msal only speaks https to an authority: the server has a throwaway
self-signed certificate for 127.0.0.1, and ``ca_file`` is its bundle for the client.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate (and its key) for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "riskdesk test login host")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "login-host.pem", directory / "login-host.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TokenEndpoint:
    """The login host, in a background thread; use as a context manager."""

    def __init__(
        self,
        directory: Path,
        *,
        client_id: str,
        client_secret: str,
        access_token: str = "local-access-token",  # noqa: S107 - a test value
        hostile: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token = access_token
        self.hostile = hostile
        self.requests: list[dict[str, Any]] = []
        self.ca_file, key_file = self_signed(directory)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.host = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def token_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/oauth2/v2.0/token")]

    def answer(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append({"method": method, "path": path, "form": form})
        parts = path.split("?")[0].strip("/").split("/")
        tenant = parts[0] if parts else ""
        base = f"{self.host}/{tenant}"
        if method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return 200, {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "response_types_supported": ["code", "id_token", "token"],
            }
        if method == "POST" and parts[1:] == ["oauth2", "v2.0", "token"]:
            if form.get("grant_type") != "client_credentials":
                return 400, {"error": "unsupported_grant_type"}
            if form.get("client_id") != self.client_id or (
                form.get("client_secret") != self.client_secret
            ):
                said = f" (received {form.get('client_secret')})" if self.hostile else ""
                return 401, {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided. "
                    "Ensure the secret being sent in the request is the client secret value, "
                    f"not the client secret ID{said}.\r\nTrace ID: 0000\r\nTimestamp: now",
                    "error_codes": [7000215],
                }
            return 200, {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": self.access_token,
            }
        return 404, {"error": "not_found", "error_description": path}


def _handler(endpoint: TokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:  # quiet
            pass

        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            status, body = endpoint.answer(method, self.path, form)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._reply("GET")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self._reply("POST")

    return Handler
