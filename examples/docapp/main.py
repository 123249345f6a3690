"""The HTTP API: upload documents, ask questions, read results."""

from __future__ import annotations

from fastapi import BackgroundTasks, FastAPI, HTTPException, UploadFile
from pydantic import BaseModel

from docapp import store
from docapp.processing import log_conversation, process_document

app = FastAPI(title="docapp")


class Question(BaseModel):
    """A chat message from the user."""

    session_id: str
    text: str


@app.post("/documents", status_code=202)
async def upload_document(file: UploadFile, background_tasks: BackgroundTasks) -> dict[str, int]:
    """Store the upload and process it (extract text, embed) after the response."""
    content = await file.read()
    document_id = store.create_document(file.filename or "upload")
    background_tasks.add_task(process_document, document_id, content)
    return {"id": document_id}


@app.get("/documents/{document_id}")
def read_document(document_id: int) -> dict[str, object]:
    """A document with its processing status."""
    document = store.get_document(document_id)
    if document is None:
        raise HTTPException(status_code=404, detail="no such document")
    return document


@app.post("/chat")
def chat(question: Question, background_tasks: BackgroundTasks) -> dict[str, str]:
    """Answer a question, then log the exchange after the response."""
    answer = f"You asked about {len(question.text.split())} words' worth of things."
    background_tasks.add_task(log_conversation, question.session_id, question.text, answer)
    return {"answer": answer}


@app.get("/chat/{session_id}")
def read_conversation(session_id: str) -> list[dict[str, str]]:
    """The logged conversation of one session."""
    return store.conversation(session_id)
