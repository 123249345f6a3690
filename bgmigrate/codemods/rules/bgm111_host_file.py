"""BGM111 host-file: the task removes files on the web host.

Removing the request's temporary file or directory after a response is streamed is work that
only makes sense on the web host, and a task that does nothing slower stays in-process. When
the task must move anyway (it is long, BGM101, or must not be lost, BGM102), the file is a
blocker: a worker on another host cannot see it. Annotate the task's parameter
``bgmigrate.LocalFile``: the file then travels with its job through the blob store, and the
task's own removal of it is cleanup of its copy, not a finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext
from bgmigrate.codemods.rules._handed_off import FILE_REMOVALS, handed_off

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def log(path: str) -> None:
    print("exported", path)

@app.get("/export")
def export(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(log, "/tmp/export.csv")
""",
    """
import os
from bgmigrate import LocalFile
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def ingest(path: LocalFile) -> None:
    print(path.read_text())
    os.unlink(path)

@app.post("/documents")
def upload(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(ingest, "/tmp/upload.pdf")
""",
)
INVALID = (
    Invalid(
        """
import os
from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import FileResponse

app = FastAPI()

@app.get("/export")
def export(background_tasks: BackgroundTasks) -> FileResponse:
    path = "/tmp/export.csv"
    background_tasks.add_task(os.remove, path)
    return FileResponse(path)
""",
        line=10,
        column=4,
    ),
    Invalid(
        """
import os
import pypdf
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def ingest(path: str) -> None:
    text = pypdf.PdfReader(path).pages[0].extract_text()
    print(text)
    os.unlink(path)

@app.post("/documents")
def upload(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(ingest, "/tmp/upload.pdf")
""",
        line=14,
        column=4,
    ),
)
FIX = (
    "annotate the task's parameter 'bgmigrate.LocalFile' (with BGMIGRATE_BLOB_STORE set) so "
    "that the file travels with its job, or pass its bytes"
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per call that removes a file or directory of the web host, except the
    task's own removal of a file handed off to it (a ``LocalFile`` parameter: its copy)."""
    own_copy = bool(handed_off(ctx.task))
    for traced in ctx.matching(ctx.config.host_file_calls):
        if own_copy and not traced.via and any(ctx.matching(FILE_REMOVALS, among=(traced,))):
            continue
        message = f"calls {traced.call.name}(): removes a file on the web host"
        yield ctx.call_finding(RULE.code, traced, message, FIX)


RULE = RuleSpec(
    name="host-file",
    summary="The task removes files on the web host (the request's temporary files).",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
