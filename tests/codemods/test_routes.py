"""Endpoint labels: route decorators under the prefixes of every ``include_router``."""

from __future__ import annotations

from bgmigrate.codemods.routes import Mounts


def test_a_router_mounted_twice_has_a_label_per_mount() -> None:
    mounts = Mounts([("", "api.router", "/v1"), ("", "api.router", "/api/v1")])
    assert mounts.labels("POST /tasks", "api.router") == ("POST /api/v1/tasks", "POST /v1/tasks")


def test_prefixes_nest_through_routers() -> None:
    mounts = Mounts(
        [("api.root", "cases.router", "/{organization}/cases"), ("", "api.root", "/api")]
    )
    assert mounts.labels("GET /{case_id}", "cases.router") == (
        "GET /api/{organization}/cases/{case_id}",
    )


def test_an_unmounted_router_and_a_cycle_keep_the_route_as_declared() -> None:
    mounts = Mounts([("a.router", "b.router", "/b"), ("b.router", "a.router", "/a")])
    assert mounts.labels("GET /x", "c.router") == ("GET /x",)
    assert mounts.labels("GET /x", None) == ("GET /x",)
    assert mounts.labels("GET /x", "a.router") == ("GET /b/a/x",)
