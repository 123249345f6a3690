"""POST /register/ and /forgot-password/ once each (the two endpoints of the one call site that
sends mail) and wait until the welcome and the password-reset emails reach the local mailbox.

Run from the app's root with trials/seapagan/env.sh sourced, MAIL_* pointing at the aiosmtpd
server that run.sh starts on 127.0.0.1, and BGMIGRATE_BACKEND naming a queue backend. The
schema is created in DB_NAME, the request goes through TestClient (the app's own lifespan runs),
and the effects are polled in the mailbox directory with a deadline. Exit 0 when both mails are
there.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import sys
import time
import uuid

from app.database.db import Base, get_database_url
from app.main import app
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient


async def _create_schema() -> None:
    engine = create_async_engine(get_database_url())
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


def _mails_to(box: str, address: str) -> list[str]:
    return [
        str(m["Subject"]) for m in mailbox.Maildir(box, create=False) if address in str(m["To"])
    ]


def _wait_for_mail(box: str, address: str, subject: str) -> bool:
    deadline = time.monotonic() + float(os.environ.get("TRIGGER_TIMEOUT", "60"))
    while time.monotonic() < deadline:
        found = [s for s in _mails_to(box, address) if subject in s]
        if found:
            print(f"mail to {address} delivered by the worker: subject {found[0]!r}")
            return True
        time.sleep(0.5)  # polling the mailbox with a deadline, not a fixed wait
    print(f"no mail {subject!r} to {address} after the timeout")
    return False


def main() -> int:
    box = sys.argv[1]
    asyncio.run(_create_schema())
    address = f"trial-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": address, "first_name": "Trial", "last_name": "User", "password": "test12345!"}
    with TestClient(app) as client:
        response = client.post("/register/", json=body)
        print("POST /register/ ->", response.status_code, list(response.json()), flush=True)
        if response.status_code != 201:
            print(response.text)
            return 1
        if not _wait_for_mail(box, address, "Welcome"):
            return 1
        response = client.post("/forgot-password/", json={"email": address})
        print("POST /forgot-password/ ->", response.status_code, response.json(), flush=True)
        if response.status_code != 200:
            return 1
        return 0 if _wait_for_mail(box, address, "Password Reset") else 1


if __name__ == "__main__":
    sys.exit(main())
