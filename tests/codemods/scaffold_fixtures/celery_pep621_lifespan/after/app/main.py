from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import bgmigrate
from fastapi import FastAPI

from app.routes import router


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.ready = True
    async with bgmigrate.lifespan():
        yield
    app.state.ready = False


app = FastAPI(
    title="shop",
    lifespan=lifespan,
)
app.include_router(router)
