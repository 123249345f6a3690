import logging
import time

from fastapi import BackgroundTasks, FastAPI

log = logging.getLogger("uvicorn")

app = FastAPI()


def summarise(seconds: int) -> None:
    time.sleep(seconds)


@app.post("/summaries")
async def create(background_tasks: BackgroundTasks):
    background_tasks.add_task(summarise, 10)
    return {}


@app.on_event("startup")
async def startup_event():
    log.info("Starting up...")
