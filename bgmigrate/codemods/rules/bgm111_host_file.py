"""BGM111 host-file: the task removes files on the web host.

Removing the request's temporary file or directory after a response is streamed is work that
only makes sense on the web host, and a task that does nothing slower stays in-process. When
the task must move anyway (it is long, BGM101, or must not be lost, BGM102), the file is a
blocker: a worker on another host cannot see it. Send the file's bytes, or put it in shared
storage (S3, a shared volume) and pass its key; the task then removes its own copy.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

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
FIX = "pass the file's bytes or a key in shared storage, not a path on the web host"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per call that removes a file or directory of the web host."""
    for traced in ctx.matching(ctx.config.host_file_calls):
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
