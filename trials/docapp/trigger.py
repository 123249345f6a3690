"""Hit both call sites' endpoints of the ported example once and wait for their effects.

Run from the ported copy's root (its pyproject.toml names the backend) with DOCAPP_DB set:
``POST /documents`` (an upload: ``process_document`` must mark the row ready with its text)
and ``POST /chat`` (``log_conversation`` must log the exchange); both are polled through the
app's own read endpoints with a deadline. Exit 0 when both effects are seen.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable

from starlette.testclient import TestClient

from docapp.main import app


def poll(client: TestClient, what: str, seen: Callable[[TestClient], object]) -> bool:
    deadline = time.monotonic() + float(os.environ.get("TRIGGER_TIMEOUT", "60"))
    while time.monotonic() < deadline:
        found = seen(client)
        if found:
            print(f"effect of {what}: {found!r}", flush=True)
            return True
        time.sleep(0.3)  # polling the app's read endpoint with a deadline, not a fixed wait
    print(f"no effect of {what} after the timeout", flush=True)
    return False


def main() -> int:
    session = f"trial-{uuid.uuid4().hex[:8]}"
    with TestClient(app) as client:
        upload = client.post(
            "/documents", files={"file": ("note.txt", b"Queues for background work")}
        )
        print("POST /documents ->", upload.status_code, upload.json(), flush=True)
        chat = client.post("/chat", json={"session_id": session, "text": "what is a queue?"})
        print("POST /chat ->", chat.status_code, chat.json(), flush=True)
        if upload.status_code != 202 or chat.status_code != 200:
            return 1
        document = f"/documents/{upload.json()['id']}"

        def ready(c: TestClient) -> object:
            body = c.get(document).json()
            return body if body["status"] == "ready" else None

        ok = poll(client, "process_document", ready)
        ok &= poll(client, "log_conversation", lambda c: c.get(f"/chat/{session}").json())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
