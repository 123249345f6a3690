"""BGM115's fixes by ``rewrite``: the hint a parameter lacks, and ``--widen-types``.

The last tests take the two call shapes that the SurfSense RAG app moved to a queue with
(``podcasts_routes.py``: a user's UUID given to ``user_id: int``; ``documents_routes.py``: a
pydantic model given to an unannotated parameter), rewrite them, and enqueue through the
in-process backend, whose ``add_task`` checks the arguments with the queue's codec.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import textwrap
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from bgmigrate import RequestBatch, task
from bgmigrate.errors import ReadinessWarning
from tests.codemods.golden import FIXTURES, chdir, invoke

SHAPES = textwrap.dedent(
    '''
    import uuid

    import requests
    from fastapi import BackgroundTasks, Depends, FastAPI
    from pydantic import BaseModel
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class User(Base):
        __tablename__ = "users"

        id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


    class PageMetadata(BaseModel):
        url: str
        title: str


    class PageContent(BaseModel):
        metadata: PageMetadata
        page_content: str


    class DocumentsCreate(BaseModel):
        content: list[PageContent] | list[str] | str
        search_space_id: int


    def current_user() -> User:
        raise NotImplementedError


    app = FastAPI()


    async def generate_podcast(chat_id: int, podcast_title: str, user_id: int):
        """Long: an LLM writes the script and a TTS service reads it."""
        requests.post("https://tts.example/podcasts", json={"chat": chat_id, "user": str(user_id)})


    async def process_page(page, search_space_id: int, user_id: str):
        """Long: chunks, embeds and stores the page."""
        requests.post("https://embed.example/pages", json={"page": page.page_content})


    @app.post("/podcasts")
    async def podcasts(
        chat_id: int,
        user: User = Depends(current_user),
        background_tasks: BackgroundTasks = BackgroundTasks(),
    ):
        background_tasks.add_task(generate_podcast, chat_id, "title", user.id)


    @app.post("/documents")
    async def documents(
        request: DocumentsCreate,
        user: User = Depends(current_user),
        background_tasks: BackgroundTasks = BackgroundTasks(),
    ):
        for page in request.content:
            background_tasks.add_task(process_page, page, request.search_space_id, str(user.id))
    '''
)


def _rewrite(project: Path, *flags: str) -> str:
    with chdir(project):
        code, diff, err = invoke("rewrite", *flags, "--no-progress", "--no-cache", ".")
    assert code == 0, err
    return diff


def test_widen_types_widens_a_hint_the_arguments_do_not_fit(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "argument_types" / "before", project)
    _rewrite(project, "--widen-types")
    source = (project / "app.py").read_text()
    assert "def notify(user_id: UUID) -> None:" in source
    assert "@task(" in source.partition("def notify")[0].rpartition("\n\n\n")[2]
    assert "from uuid import UUID" in source
    assert "BGM115 pass a value" not in source


def test_widen_types_is_idempotent(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "argument_types" / "before", project)
    _rewrite(project, "--widen-types")
    assert _rewrite(project, "--widen-types", "--diff") == ""


def test_without_widen_types_a_hint_is_left_and_reported(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "argument_types" / "before", project)
    _rewrite(project)
    source = (project / "app.py").read_text()
    assert "def notify(user_id: int) -> None:" in source
    assert "# bgmigrate: BGM115 pass a value of type int" in source


def _load(path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``path`` as a module of its own (tasks must be importable to register)."""
    monkeypatch.syspath_prepend(str(path.parent))
    module = importlib.import_module(path.stem)
    monkeypatch.delitem(sys.modules, path.stem)
    return module


def _page() -> object:
    return {"metadata": {"url": "https://a.example", "title": "A"}, "page_content": "text"}


def test_before_the_fix_the_codec_refuses_both_surfsense_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "surfsense_shapes_before.py"
    path.write_text(SHAPES)
    module = _load(path, monkeypatch)
    batch = RequestBatch()
    podcast = task(module.generate_podcast)
    with pytest.warns(ReadinessWarning, match=r"argument 'user_id': Input should be a valid int"):
        batch.add_task(podcast, 1, "title", uuid.uuid4())
    page = module.PageContent.model_validate(_page())
    with pytest.warns(ReadinessWarning, match=r"'page'.*no type hint.*'page: PageContent'"):
        batch.add_task(task(module.process_page), page, 1, str(uuid.uuid4()))


def test_after_rewrite_the_codec_accepts_both_surfsense_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    path = project / "surfsense_shapes_after.py"
    path.write_text(SHAPES)
    _rewrite(project, "--widen-types")
    rewritten = path.read_text()
    assert "user_id: UUID" in rewritten
    assert "async def process_page(page: PageContent | str," in rewritten
    module = _load(path, monkeypatch)
    batch = RequestBatch()
    # pytest turns warnings into errors: a refused argument would fail here.
    batch.add_task(module.generate_podcast, 1, "title", uuid.uuid4())
    page = module.PageContent.model_validate(_page())
    batch.add_task(module.process_page, page, 1, str(uuid.uuid4()))
    batch.add_task(module.process_page, "https://a.example", 1, str(uuid.uuid4()))
    assert len(batch) == 3


def test_a_short_name_taken_in_the_module_is_written_qualified(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(
        textwrap.dedent(
            """
            import uuid

            import requests
            from fastapi import BackgroundTasks, FastAPI
            from sqlalchemy import UUID

            app = FastAPI()
            COLUMN = UUID()


            def notify(user_id):
                requests.post("https://mail.example/send", json={"user": str(user_id)})


            @app.post("/notify")
            def post(background_tasks: BackgroundTasks) -> None:
                background_tasks.add_task(notify, uuid.uuid4())
            """
        )
    )
    _rewrite(project)
    source = (project / "app.py").read_text()
    assert "def notify(user_id: uuid.UUID):" in source
    assert source.count("import uuid\n") == 1


def test_a_task_that_stays_in_process_gets_no_hint(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    source = textwrap.dedent(
        """
        import uuid

        from fastapi import BackgroundTasks, FastAPI

        app = FastAPI()


        def log_visit(visit_id):
            print(visit_id)


        @app.post("/visits")
        def post(background_tasks: BackgroundTasks) -> None:
            background_tasks.add_task(log_visit, uuid.uuid4())
        """
    )
    (project / "app.py").write_text(source)
    _rewrite(project, "--widen-types")
    assert "def log_visit(visit_id):" in (project / "app.py").read_text()
