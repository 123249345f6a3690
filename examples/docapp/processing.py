"""Document processing: text extraction and an embedding-like vector.

A real service would call a parser and an embedding model here; this one computes a
deterministic hashed bag-of-words vector so that the example runs offline.
"""

from __future__ import annotations

import hashlib
import math
import time

DIMENSIONS = 16


def extract_text(content: bytes) -> str:
    """Decode the upload as text (a stand-in for PDF/DOCX parsing)."""
    return content.decode("utf-8", errors="replace").strip()


def embed(text: str) -> list[float]:
    """A unit vector of ``DIMENSIONS`` floats derived from the words of ``text``."""
    vector = [0.0] * DIMENSIONS
    for word in text.lower().split():
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def process_document(document_id: int, content: bytes) -> None:
    """Extract, embed and store one uploaded document (slow in real life: model calls)."""
    from docapp import store

    text = extract_text(content)
    time.sleep(0.01)  # stands in for the embedding model's latency
    store.save_processed(document_id, text, embed(text))


async def log_conversation(session_id: str, question: str, answer: str) -> None:
    """Append one question/answer exchange to the conversation log."""
    from docapp import store

    store.append_messages(
        session_id,
        [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
    )
