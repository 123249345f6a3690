import logging
import time

import bgmigrate
from bgmigrate import Tasks, task
from fastapi import FastAPI

log = logging.getLogger("uvicorn")

app = FastAPI()
app.router.add_event_handler("startup", bgmigrate.startup)
app.router.add_event_handler("shutdown", bgmigrate.shutdown)


# bgmigrate: timeout 3300 s: default for long-running tasks (BGM101), not measured
@task(timeout=3300)
def summarise(seconds: int) -> None:
    time.sleep(seconds)


@app.post("/summaries")
async def create(background_tasks: Tasks):
    background_tasks.add_task(summarise, 10)
    return {}


@app.on_event("startup")
async def startup_event():
    log.info("Starting up...")
