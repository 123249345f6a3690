import time

from fastapi import APIRouter, BackgroundTasks

router = APIRouter()


def rebuild_index(shop_id: int) -> None:
    time.sleep(shop_id)


@router.post("/shops/{shop_id}/index")
def reindex(shop_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(rebuild_index, shop_id)
