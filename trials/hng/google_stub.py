"""Google's token-info endpoint, on loopback, for the hng trial's POST /auth/google: the app asks
https://www.googleapis.com/oauth2/v3/tokeninfo?id_token=... who the token belongs to (the
trial's DNS server sends that name to 127.0.0.1). Here the token is the e-mail address itself;
the answer is the profile Google would give for it.

usage: python google_stub.py CERT KEY   (HTTPS on 127.0.0.1:443; runs until SIGTERM)
"""

from __future__ import annotations

import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse


class TokenInfo(BaseHTTPRequestHandler):
    """GET /oauth2/v3/tokeninfo?id_token=EMAIL -> that address's profile."""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        email = parse_qs(url.query).get("id_token", [""])[0]
        if url.path != "/oauth2/v3/tokeninfo" or "@" not in email:
            self.send_error(400, "invalid token")
            return
        profile = {
            "email": email,
            "email_verified": "true",
            "given_name": "Trial",
            "family_name": "Googler",
            "picture": "https://example.com/a.png",
            "sub": str(abs(hash(email))),
        }
        body = json.dumps(profile).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    server = HTTPServer(("127.0.0.1", 443), TokenInfo)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("tokeninfo on https://127.0.0.1:443", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
