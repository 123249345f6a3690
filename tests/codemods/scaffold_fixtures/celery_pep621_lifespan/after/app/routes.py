import time

from bgmigrate import Tasks, task
from fastapi import APIRouter

router = APIRouter()


# bgmigrate: timeout 3300 s: default for long-running tasks (BGM101), not measured
@task(timeout=3300)
def rebuild_index(shop_id: int) -> None:
    time.sleep(shop_id)


@router.post("/shops/{shop_id}/index")
def reindex(shop_id: int, background_tasks: Tasks) -> None:
    background_tasks.add_task(rebuild_index, shop_id)
