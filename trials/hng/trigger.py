"""Hit, once each through the running app (uvicorn), the endpoints of the hng boilerplate's call
sites that `bgmigrate scan` judges `migrate`, and wait until every e-mail they send is in the
local Maildir.

usage: python trigger.py BASE_URL MAILDIR   (from the app's root, trials/hng/env.sh sourced)

The schema is created first (the app creates none at start-up and commits no alembic
revision: its models' metadata, imported as its alembic/env.py does). One
user registers; the scan's sites are then reached as a client would reach them, the super-admin
endpoint (POST /squeeze) with that user made super admin in the database, POST /auth/google
with a token that google_stub.py (Google's token-info endpoint on loopback) takes for a new
address. Each site sends a mail of its own (recipient, subject); they are polled in the Maildir
with a deadline. Exit 0 when every mail is there.
"""

from __future__ import annotations

import mailbox
import os
import sys
import time
import uuid

import httpx
from api.db.database import SessionLocal, engine
from api.v1.models import *  # noqa: F403  (every table, as its alembic/env.py imports them)
from api.v1.models.associations import Base
from api.v1.models.permissions.permissions import Permission  # noqa: F401
from api.v1.models.permissions.role import Role  # noqa: F401
from api.v1.models.permissions.role_permissions import role_permissions  # noqa: F401
from api.v1.models.permissions.user_org_role import user_organisation_roles  # noqa: F401
from api.v1.models.user import User

PASSWORD = "Trial-pass1!"  # its rules: upper, lower, digit, special character
DOMAIN = "mail-trial.net"  # any domain: the trial's DNS answers MX for every name


def wait_until_up(base: str) -> None:
    """Poll the app's root until it answers (uvicorn started by run.sh), with a deadline."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)  # polling with a deadline, not a fixed wait
    raise SystemExit(f"the app at {base} did not answer")


def make_super_admin(email: str) -> None:
    """Test data: the squeeze endpoint is for super admins, who are made in the database."""
    with SessionLocal() as db:
        db.query(User).filter(User.email == email).update({"is_superadmin": True})
        db.commit()


def hit(client: httpx.Client, call: str, body: dict[str, str], status: int) -> dict[str, object]:
    """``call`` ("POST /path", optionally with a bearer token after it) once; stop the trigger
    unless it answers ``status``."""
    method, path, *token = call.split()
    headers = {"Authorization": f"Bearer {token[0]}"} if token else {}
    response = client.request(method, path, json=body, headers=headers)
    print(f"{method} {path} -> {response.status_code}", flush=True)
    if response.status_code != status:
        raise SystemExit(f"{method} {path}: expected {status}, got {response.text[:500]}")
    answer: dict[str, object] = response.json()
    return answer


def requests(client: httpx.Client, tag: str) -> list[tuple[str, str]]:
    """Hit each `migrate` site's endpoint once; the (recipient, subject) of every mail due."""
    user, admin = f"{tag}@{DOMAIN}", os.environ["MAIL_USERNAME"]
    waiter, googler = f"{tag}-waitlist@{DOMAIN}", f"{tag}-google@{DOMAIN}"
    person = {"full_name": "Trial User", "email": user, "message": "a question"}
    signup = {"email": user, "password": PASSWORD, "first_name": "Trial", "last_name": "User"}
    token = hit(client, "POST /auth/register", signup, 201)["access_token"]
    hit(client, "POST /auth/request-token", {"email": user}, 200)
    hit(client, "POST /auth/magic-link", {"email": user}, 200)
    hit(client, "POST /auth/forgot-password", {"email": user}, 200)
    hit(client, f"PUT /profile {token}", {"recovery_email": f"{tag}-2@{DOMAIN}"}, 200)
    hit(client, "POST /contact", {**person, "phone_number": "+2348000000000"}, 201)
    hit(client, "POST /faq-inquiries", person, 201)
    hit(client, "POST /newsletter-subscription", {"email": user}, 200)
    hit(client, "POST /newsletters/unsubscribe", {"email": user}, 200)
    hit(client, "POST /waitlist/", {"email": waiter, "full_name": "Trial Waiter"}, 201)
    hit(client, "POST /auth/google", {"id_token": googler}, 200)
    make_super_admin(user)
    squeeze = {"title": "Trial squeeze", "email": user, "user_id": "", "url_slug": f"{tag}-sq"}
    hit(client, f"POST /squeeze {token}", squeeze, 201)
    return [
        (user, "Welcome to HNG Boilerplate"),
        (user, "Request Token Login"),
        (user, "Your Magic Link"),
        (user, "Password Reset"),
        (user, "Recovery Email Change"),
        (admin, "New Contact Request"),
        (user, "Thank you for contacting us"),
        (user, "We've received your inquiry"),
        (user, "Thank You for Subscribing to HNG Boilerplate Newsletters"),
        (user, "Unsubscription from HNG Boilerplate Newsletter"),
        (waiter, "Welcome to HNG Waitlist"),
        (googler, "Welcome to HNG Boilerplate"),
        (user, "Welcome to HNG Squeeze"),
    ]


def delivered(box: str) -> set[tuple[str, str]]:
    """(recipient, subject) of every mail in the Maildir."""
    return {(str(m["To"]), str(m["Subject"])) for m in mailbox.Maildir(box, create=False)}


def main() -> int:
    base, box = sys.argv[1], sys.argv[2]
    Base.metadata.create_all(bind=engine)
    wait_until_up(base)
    with httpx.Client(base_url=base + "/api/v1", timeout=30) as client:
        due = requests(client, f"trial-{uuid.uuid4().hex[:8]}")
    deadline = time.monotonic() + float(os.environ.get("TRIGGER_TIMEOUT", "60"))
    missing = set(due)
    while missing and time.monotonic() < deadline:
        seen = delivered(box)
        for to, subject in sorted(missing & seen):
            print(f"mail to {to} delivered: subject {subject!r}", flush=True)
        missing -= seen
        time.sleep(0.5)  # polling the Maildir with a deadline, not a fixed wait
    for to, subject in sorted(missing):
        print(f"no mail {subject!r} to {to} after the timeout", flush=True)
    print(f"{len(due) - len(missing)} of {len(due)} mails delivered", flush=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
