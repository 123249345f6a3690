"""A local SMTPS server for the hng trial: implicit TLS (the app's SMTP_SSL / MAIL_SSL_TLS),
any login accepted, every message stored in a Maildir.

usage: python smtpd.py MAILDIR CERT KEY PORT   (runs until SIGTERM)
"""

from __future__ import annotations

import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult


def accept_any_login(*_args: object) -> AuthResult:
    """The app logs in with its MAIL_USERNAME/MAIL_PASSWORD; any pair will do here."""
    return AuthResult(success=True)


def main() -> None:
    box, cert, key, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = Controller(
        Mailbox(box),
        hostname="127.0.0.1",
        port=port,
        ssl_context=context,
        authenticator=accept_any_login,
        auth_require_tls=False,  # the whole connection is TLS already (implicit TLS)
    )
    controller.start()
    print(f"smtps on 127.0.0.1:{port}, mail to {box}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
