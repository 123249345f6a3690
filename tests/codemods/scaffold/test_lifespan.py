"""``bgmigrate.lifespan`` wired into the app: added, nested, or left with a reason."""

from __future__ import annotations

from textwrap import dedent

import pytest

from bgmigrate.codemods.scaffold.lifespan import app_with_startup, wire_lifespan


def _wire(source: str) -> tuple[str, str | None, str | None]:
    after, done, left = wire_lifespan(dedent(source).encode(), "app")
    return after.decode(), done, left


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("app = FastAPI()\n", "app = FastAPI(lifespan=bgmigrate.lifespan)\n"),
        ('app = FastAPI(title="x")\n', 'app = FastAPI(title="x", lifespan=bgmigrate.lifespan)\n'),
        (
            'app = FastAPI(\n    title="x",\n)\n',
            'app = FastAPI(\n    title="x",\n    lifespan=bgmigrate.lifespan,\n)\n',
        ),
    ],
)
def test_an_app_without_a_lifespan_gets_ours(before: str, expected: str) -> None:
    after, done, left = _wire(f"from fastapi import FastAPI\n\n{before}")
    assert after == f"import bgmigrate\nfrom fastapi import FastAPI\n\n{expected}"
    assert done is not None
    assert left is None
    assert _wire(after)[0] == after  # idempotent


def test_a_lifespan_that_is_not_a_context_manager_function_is_left_with_a_reason() -> None:
    source = "from fastapi import FastAPI\n\napp = FastAPI(lifespan=make_lifespan())\n"
    after, done, left = _wire(source)
    assert after == source
    assert done is None
    assert left is not None
    assert "async with bgmigrate.lifespan()" in left


def test_a_lifespan_with_two_yields_is_left_with_a_reason() -> None:
    source = """\
        from contextlib import asynccontextmanager

        from fastapi import FastAPI


        @asynccontextmanager
        async def life(app):
            if app:
                yield
            else:
                yield


        app = FastAPI(lifespan=life)
        """
    after, _done, left = _wire(source)
    assert after == dedent(source)
    assert left is not None
    assert "no single yield" in left


def test_an_app_with_event_handlers_gets_ours_registered_right_after_it_is_built() -> None:
    # the shape of testdrivenio/fastapi-tdd-docker: a factory, then on_event handlers
    before = """\
        from fastapi import FastAPI


        def create_application() -> FastAPI:
            return FastAPI()


        app = create_application()


        @app.on_event("startup")
        async def startup_event():
            init_db(app)
        """
    after, done, left = _wire(before)
    assert after == dedent(
        """\
        import bgmigrate
        from fastapi import FastAPI


        def create_application() -> FastAPI:
            return FastAPI()


        app = create_application()
        app.router.add_event_handler("startup", bgmigrate.startup)
        app.router.add_event_handler("shutdown", bgmigrate.shutdown)


        @app.on_event("startup")
        async def startup_event():
            init_db(app)
        """
    )
    assert done is not None
    assert left is None
    assert _wire(after)[0] == after  # idempotent


def test_event_handlers_on_an_app_not_built_at_module_level_are_left_with_a_reason() -> None:
    source = """\
        from fastapi import FastAPI


        def create_app():
            app = FastAPI()
            app.router.add_event_handler("startup", open_db)
            return app
        """
    after, done, left = _wire(source)
    assert after == dedent(source)
    assert done is None
    assert left is not None
    assert "bgmigrate.startup" in left


def test_a_module_without_an_app_is_not_touched() -> None:
    assert _wire("x = 1\n") == ("x = 1\n", None, None)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            """\
            @asynccontextmanager
            async def life(app):
                yield

            app = FastAPI(lifespan=life)
            """,
            "app",
        ),
        (  # the shape of testdrivenio/fastapi-tdd-docker: a factory, then on_event handlers
            """\
            def create_application() -> FastAPI:
                application = FastAPI()
                return application

            app = create_application()

            @app.on_event("startup")
            async def startup_event():
                init_db(app)
            """,
            "app",
        ),
        ("api: FastAPI = FastAPI()\napi.add_event_handler('startup', open_db)\n", "api"),
        ("app = FastAPI()\n", None),
        ("app = FastAPI(lifespan=bgmigrate.lifespan)\n", None),
        ("x = 1\n", None),
    ],
)
def test_an_app_with_startup_code_of_its_own_is_named_for_the_worker(
    source: str, expected: str | None
) -> None:
    assert app_with_startup(dedent(source).encode()) == expected
