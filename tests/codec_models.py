"""Pydantic models made every way applications make them, for the codec's round-trip tests.

Each kind is a hypothesis strategy of instances, built as user code builds them: the
constructor, ``model_construct`` (with and without ``_fields_set``), ``model_validate`` from a
SQLAlchemy row, SQLModel ``table=True`` rows loaded from a real SQLite database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field
from sqlalchemy import Engine, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlmodel import Field as SQLField
from sqlmodel import Session as SQLSession
from sqlmodel import SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class Resource(BaseModel):
    """Optional fields, a default and two default factories (a timestamp and a uuid)."""

    id: int | None = None
    host: str | None = None
    port: int = 443
    created_at: datetime = Field(default_factory=_now)
    token: uuid.UUID = Field(default_factory=uuid.uuid4)


class Owner(BaseModel):
    """A model holding other models."""

    name: str
    primary: Resource
    others: list[Resource] = []


class Aliased(BaseModel):
    """Every kind of alias, with and without ``populate_by_name``."""

    model_config = ConfigDict(populate_by_name=True)

    plain: int = Field(alias="Plain")
    shown: str = Field(serialization_alias="shownAs")
    read: int = Field(validation_alias=AliasChoices("readFrom", "read_from"))
    optional: str | None = Field(default=None, alias="Optional")


class Strictly(BaseModel):
    """Aliases on a model that forbids extra keys and computes a field."""

    model_config = ConfigDict(extra="forbid")

    width: int = Field(alias="w")
    height: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def area(self) -> int:
        """Computed on both sides; never sent back as input."""
        return self.width * self.height


class Open(BaseModel):
    """Keeps unknown keys (``extra='allow'``)."""

    model_config = ConfigDict(extra="allow")

    kind: str


class Base(DeclarativeBase):
    """Plain SQLAlchemy declarative base (not pydantic)."""


class ResourceRow(Base):
    """A SQLAlchemy ORM table."""

    __tablename__ = "resource_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    port: Mapped[int]


class Profile(SQLModel, table=True):
    """A SQLModel table model, as SQLModel applications load them."""

    id: int | None = SQLField(default=None, primary_key=True)
    email: str
    display_name: str | None = None
    score: int = 0
    joined: datetime = SQLField(default_factory=_now)


def sqlite_engine() -> Engine:
    """A fresh in-memory SQLite database with both tables."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["profile"]])
    return engine


def loaded_profile(engine: Engine, **values: Any) -> Profile:
    """Insert a ``Profile`` and load it back in a new session, as a request handler would."""
    with SQLSession(engine) as session:
        created = Profile(**values)
        session.add(created)
        session.commit()
        key = created.id
    with SQLSession(engine) as session:
        loaded = session.get(Profile, key)
    assert loaded is not None
    return loaded


def validated_from_row(engine: Engine, host: str, port: int) -> Resource:
    """``Resource.model_validate(row, from_attributes=True)`` of a SQLAlchemy row."""
    with Session(engine) as session:
        row = ResourceRow(host=host, port=port)
        session.add(row)
        session.commit()
        return Resource.model_validate(row, from_attributes=True)


ids = st.integers(min_value=1, max_value=2**53)
texts = st.text(max_size=20)
ports = st.integers(min_value=1, max_value=65535)
moments = st.datetimes(timezones=st.just(UTC))


def resources() -> st.SearchStrategy[Resource]:
    """A ``Resource`` made by its constructor or by ``model_construct``, in all four ways."""
    values = st.fixed_dictionaries(
        {"id": ids, "host": texts},
        optional={"port": ports, "created_at": moments, "token": st.uuids()},
    )
    makers: list[Callable[[dict[str, Any]], Resource]] = [
        lambda v: Resource(**v),
        lambda v: Resource.model_construct(**v),
        lambda v: Resource.model_construct(_fields_set=set(), **v),
        lambda v: Resource.model_construct(_fields_set={"id"}, **v),
    ]
    return st.builds(lambda make, v: make(v), st.sampled_from(makers), values)


def kinds(engine: Engine) -> Iterator[tuple[str, type[BaseModel], st.SearchStrategy[Any]]]:
    """``(kind, annotation, instances)`` for every way of making a model under test."""
    yield "constructor", Resource, st.builds(Resource, id=ids, host=texts, port=ports)
    yield "model_construct", Resource, resources()
    yield (
        "from_attributes",
        Resource,
        st.builds(validated_from_row, st.just(engine), texts, ports),
    )
    yield (
        "sqlmodel_table",
        Profile,
        st.builds(
            lambda email, name, score: loaded_profile(
                engine, email=email, display_name=name, score=score
            ),
            texts,
            st.none() | texts,
            ids,
        ),
    )
    yield (
        "nested",
        Owner,
        st.builds(Owner, name=texts, primary=resources(), others=st.lists(resources(), max_size=3)),
    )
    yield (
        "aliases",
        Aliased,
        st.builds(
            lambda p, s, r, o: Aliased.model_validate(
                {"Plain": p, "shown": s, "readFrom": r, "Optional": o}
            ),
            ids,
            texts,
            ids,
            st.none() | texts,
        )
        | st.builds(
            lambda p, s, r: Aliased.model_construct(plain=p, shown=s, read=r), ids, texts, ids
        ),
    )
    yield "computed_forbid", Strictly, st.builds(lambda w, h: Strictly(w=w, height=h), ids, ids)
    yield (
        "extra_allow",
        Open,
        st.builds(
            lambda kind, extra: Open(kind=kind, **extra),
            texts,
            st.dictionaries(st.sampled_from(["colour", "size", "tags"]), st.integers() | texts),
        ),
    )


def state(model: BaseModel) -> dict[str, Any]:
    """Everything a model holds: its type, every declared field and every extra key."""
    fields = {name: getattr(model, name, "<missing>") for name in type(model).model_fields}
    return {"type": type(model), **fields, "extra": model.__pydantic_extra__}
