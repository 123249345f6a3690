"""BGM103 request-scoped-argument: the task receives an object that only lives in the request.

The endpoint's DB session, the ``Request`` and what it holds (``request.state``,
``request.app.state``, the authenticated ``request.user``; not an id read from them), an
``UploadFile``, ORM rows loaded with the request's session, clients opened for the request,
temporary files and files the request wrote on the web host cannot travel to a worker (and
in-process they may be closed before the task runs). Pass an id or the data itself and open
or load the object inside the task. A temporary file given to a
parameter annotated ``bgmigrate.LocalFile`` is no finding: it travels with its job
(``docs/files.md``).
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Evidence, Finding
from bgmigrate.codemods.request_scope import TEMPORARY_FILE
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext
from bgmigrate.codemods.rules._handed_off import given_to_handed_off

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI, Request

app = FastAPI()

def audit(client_host: str) -> None:
    print(client_host)

@app.get("/")
def index(request: Request, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(audit, request.client.host)
""",
    """
import os
import tempfile
from bgmigrate import LocalFile
from fastapi import BackgroundTasks, FastAPI, UploadFile

app = FastAPI()

def ingest(path: LocalFile) -> None:
    print(path.read_bytes())

@app.post("/documents")
async def upload(file: UploadFile, background_tasks: BackgroundTasks) -> None:
    fd, path = tempfile.mkstemp(suffix=".pdf")
    with os.fdopen(fd, "wb") as out:
        out.write(await file.read())
    background_tasks.add_task(ingest, path)
""",
)
INVALID = (
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI, UploadFile

app = FastAPI()

def store(upload: UploadFile) -> None:
    print(upload.filename)

@app.post("/upload")
async def upload(file: UploadFile, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(store, file)
""",
        line=10,
        column=4,
    ),
    Invalid(
        """
from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy.orm import Session
from app.db import get_db, User

app = FastAPI()

def greet(user: User) -> None:
    print(user.name)

@app.post("/users/{user_id}/greet")
def greet_user(user_id: int, background_tasks: BackgroundTasks, db: Session = Depends(get_db)):
    user = db.get(User, user_id)
    background_tasks.add_task(greet, user)
""",
        line=13,
        column=4,
    ),
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI, UploadFile

app = FastAPI()

def parse(path: str) -> None:
    print(open(path, "rb").read())

@app.post("/upload")
async def upload(file: UploadFile, background_tasks: BackgroundTasks) -> None:
    path = f"/srv/uploads/{file.filename}"
    with open(path, "wb") as out:
        out.write(await file.read())
    background_tasks.add_task(parse, path)
""",
        line=13,
        column=4,
    ),
)
FIX = "pass an id or plain data and load or open the object inside the task"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per request-scoped argument (the object of a bound-method task included)."""
    receiver = (ctx.site.receiver,) if ctx.site.receiver else ()
    handed_off = given_to_handed_off(ctx)
    for index, argument in enumerate((*ctx.site.arguments, *receiver)):
        if argument.request_scoped is None:
            continue
        if index in handed_off and argument.request_scoped == TEMPORARY_FILE:
            continue  # a LocalFile travels with its job
        message = f"argument {argument.text!r} is {argument.request_scoped}: {FIX}"
        evidence = (ctx.site_evidence(), Evidence(ctx.path, argument.at.line, argument.text))
        yield Finding(RULE.code, message, FIX, (evidence,))


RULE = RuleSpec(
    name="request-scoped-argument",
    summary="The task receives a request-scoped object (session, Request, UploadFile, ORM row).",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
