import time

from fastapi import BackgroundTasks, FastAPI

app = FastAPI(title="mail")


def send(seconds: int) -> None:
    time.sleep(seconds)


@app.post("/send")
def post(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(send, 3)
