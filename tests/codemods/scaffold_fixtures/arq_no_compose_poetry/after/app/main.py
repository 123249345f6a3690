import time

import bgmigrate
from bgmigrate import Tasks, task
from fastapi import FastAPI

app = FastAPI(title="mail", lifespan=bgmigrate.lifespan)


# bgmigrate: timeout 3300 s: default for long-running tasks (BGM101), not measured
@task(timeout=3300)
def send(seconds: int) -> None:
    time.sleep(seconds)


@app.post("/send")
def post(background_tasks: Tasks) -> None:
    background_tasks.add_task(send, 3)
