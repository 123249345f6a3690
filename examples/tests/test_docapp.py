"""docapp's own behaviour: the same tests pass before and after migration, on any backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient


def test_an_uploaded_document_gets_processed(
    client: TestClient, eventually: Callable[[Callable[[], object]], object]
) -> None:
    response = client.post("/documents", files={"file": ("notes.txt", b"hello agent world")})
    assert response.status_code == 202
    document_id = response.json()["id"]

    def processed() -> dict[str, object] | None:
        document: dict[str, object] = client.get(f"/documents/{document_id}").json()
        return document if document["status"] == "ready" else None

    document = eventually(processed)
    assert isinstance(document, dict)
    assert document["text"] == "hello agent world"
    embedding = document["embedding"]
    assert isinstance(embedding, list)
    assert len(embedding) == 16
    assert abs(sum(v * v for v in embedding) - 1.0) < 1e-3


def test_a_chat_exchange_is_logged_after_the_answer(
    client: TestClient, eventually: Callable[[Callable[[], object]], object]
) -> None:
    session = uuid.uuid4().hex
    response = client.post("/chat", json={"session_id": session, "text": "what is bgmigrate"})
    assert response.status_code == 200
    logged = eventually(lambda: client.get(f"/chat/{session}").json())
    assert logged == [
        {"role": "user", "content": "what is bgmigrate"},
        {"role": "assistant", "content": response.json()["answer"]},
    ]


def test_an_unknown_document_is_404(client: TestClient) -> None:
    assert client.get("/documents/0").status_code == 404
