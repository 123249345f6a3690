from fastapi import FastAPI

from app.routes import router

test_app = FastAPI()  # a test's own app: its lifespan is the test's business
test_app.include_router(router)
