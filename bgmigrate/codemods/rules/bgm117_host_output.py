"""BGM117 host-output: the task writes files on the host.

A report, an export or a converted document written to the local disk is there for someone
on the same host to read: the web process serves it (``StaticFiles``, ``FileResponse``) or
reads it on a later request. In-process, that host is the web host; on a queue, the worker
writes the file on its own host, where the web process never sees it. A task that does
nothing slower stays in-process; when it must move (BGM101, BGM102), the file is a blocker:
write it to shared storage (S3, a shared volume, the database) and keep its key.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
import boto3
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def export(report_id: int) -> None:
    boto3.client("s3").put_object(Bucket="reports", Key=f"{report_id}.csv", Body=b"")

@app.post("/reports")
def create(report_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(export, report_id)
""",
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def show(path: str) -> None:
    with open(path) as file:
        print(file.read())

@app.get("/show")
def index(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(show, "notes.txt")
""",
)
INVALID = (
    Invalid(
        """
import os
import openai
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def write_report(topic: str) -> None:
    text = openai.OpenAI().responses.create(model="gpt-4o", input=topic).output_text
    os.makedirs("outputs", exist_ok=True)
    with open(f"outputs/{topic}.md", "w") as file:
        file.write(text)

@app.post("/reports")
def create(topic: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(write_report, topic)
""",
        line=15,
        column=4,
    ),
)
FIX = (
    "write the file to shared storage (S3, a shared volume, the database) and pass or keep "
    "its key: a worker writes on its own host, where the web process cannot read it"
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per call that writes a file or a directory on the host."""
    named = set(ctx.matching(ctx.config.host_output_calls))
    for traced in ctx.calls:
        if traced.call.writes or traced in named:
            message = f"calls {traced.call.label}(): writes a file on this host"
            yield ctx.call_finding(RULE.code, traced, message, FIX)


RULE = RuleSpec(
    name="host-output",
    summary="The task writes files on the host (reports, exports the web process reads).",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
