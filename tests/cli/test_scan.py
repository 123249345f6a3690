"""``bgmigrate scan``: exit codes, formats, paths and options, errors without tracebacks."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from bgmigrate.codemods import cache
from tests.cli.conftest import QUIET_APP, SLOW_APP, Write
from tests.codemods.golden import invoke
from tests.codemods.report_schema import load_report


def scan(*args: str) -> tuple[int, str, str]:
    return invoke("scan", "--no-progress", *args)


def test_exit_0_when_call_sites_have_no_findings(project: Write) -> None:
    project("app.py", QUIET_APP)
    code, out, _ = scan(".")
    assert code == 0
    assert "keep-in-process" in out


def test_exit_1_with_findings_and_path_line_col_messages(project: Write) -> None:
    project("app.py", SLOW_APP)
    code, out, _ = scan(".")
    assert code == 1
    assert "app.py:11:5: POST /wait -> app.wait (sync) [migrate]" in out
    assert "BGM101 calls time.sleep()" in out


def test_exit_2_for_an_unparsable_file_and_the_rest_is_still_scanned(project: Write) -> None:
    project("app.py", SLOW_APP)
    project("broken.py", "def add_task(:\n")
    code, out, _ = scan(".")
    assert code == 2
    assert "broken.py:1:1: error: cannot parse" in out
    assert "app.py:11:5" in out


def test_missing_path_is_a_usage_error_without_traceback(project: Write) -> None:
    code, _, err = scan("nowhere")
    assert code == 2
    assert err == "bgmigrate: error: no such file or directory: nowhere\n"


def test_unknown_config_key_lists_the_valid_ones(project: Write) -> None:
    project("pyproject.toml", "[tool.bgmigrate]\nslow_calls = []\n")
    project("app.py", QUIET_APP)
    code, _, err = scan(".")
    assert code == 2
    assert "unknown key 'slow_calls'" in err
    assert "slow-calls" in err
    assert "Traceback" not in err


def test_several_paths_absolute_and_relative_with_options_anywhere(
    project: Write, tmp_path: Path
) -> None:
    project("a/app.py", SLOW_APP)
    project("b/app.py", SLOW_APP)
    code, out, _ = scan(str(tmp_path / "a"), "--format", "json", "b", "-j", "1")
    assert code == 1
    paths = [site["path"] for site in load_report(out)["call_sites"]]
    assert paths == ["a/app.py", "b/app.py"]


def test_output_file_and_nothing_else_written(project: Write, tmp_path: Path) -> None:
    project("app.py", SLOW_APP)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, _ = scan(".", "--format", "json", "--output", "report.json", "--no-cache")
    assert code == 1
    assert out == ""
    report = load_report((tmp_path / "report.json").read_text())
    assert report["version"] == 1
    assert report["call_sites"][0]["verdict"] == "migrate"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "report.json"])


def test_json_contract_fields(project: Write) -> None:
    project("app.py", SLOW_APP)
    _, out, _ = scan(".", "--format", "json")
    report = load_report(out)
    assert set(report) >= {"version", "files_scanned", "files_parsed", "call_sites"}
    assert set(report) >= {"other_uses", "errors"}
    site = report["call_sites"][0]
    assert site["line"] == 11
    assert site["endpoint"] == "POST /wait"
    assert site["task"] == "app.wait"
    assert site["task_path"] == "app.py"
    assert site["task_line"] == 6
    assert site["task_is_async"] is False
    assert site["findings"][0]["rule"] == "BGM101"


def test_default_excludes_and_gitignore(project: Write) -> None:
    project("app.py", QUIET_APP)
    project(".venv/lib/site.py", SLOW_APP)
    project("node_modules/x/app.py", SLOW_APP)
    project("build/app.py", SLOW_APP)
    project("generated/app.py", SLOW_APP)
    project(".gitignore", "generated/\n")
    code, out, _ = scan(".", "--format", "json")
    assert code == 0
    assert load_report(out)["files_scanned"] == 1


def test_exclude_and_ignore_path_patterns(project: Write) -> None:
    project("app.py", QUIET_APP)
    project("legacy/app.py", SLOW_APP)
    assert scan(".")[0] == 1
    assert scan(".", "--exclude", "legacy")[0] == 0
    assert scan(".", "--ignore", "legacy")[0] == 0


def test_select_and_ignore_rule_codes(project: Write) -> None:
    project("app.py", SLOW_APP)
    assert scan(".", "--ignore", "BGM101")[0] == 0
    assert scan(".", "--select", "BGM102")[0] == 0
    assert scan(".", "--select", "BGM1")[0] == 1


def test_pyproject_configures_rules(project: Write) -> None:
    project("pyproject.toml", '[tool.bgmigrate]\nignore = ["BGM101"]\n')
    project("app.py", SLOW_APP)
    assert scan(".")[0] == 0
    assert scan(".", "--ignore", "BGM102")[0] == 1  # the flag replaces the file's list


def test_cache_is_reused_for_unchanged_files_only(project: Write, tmp_path: Path) -> None:
    app = project("app.py", SLOW_APP)
    assert scan(".")[0] == 1
    (stored,) = (tmp_path / ".bgmigrate_cache").glob("facts-*.json")
    entries = cache.load(stored)
    assert len(entries) == 1
    # Plant a stale result: a re-run must use it while the file is unchanged...
    stale = {
        k: dataclasses.replace(v, facts=dataclasses.replace(v.facts, call_sites=()))
        for k, v in entries.items()
    }
    cache.save(stored, stale)
    assert scan(".")[0] == 0
    assert scan(".", "--no-cache")[0] == 1
    # ...and must not once the content changes.
    app.write_text(SLOW_APP + "\n")
    assert scan(".")[0] == 1


def test_columns_count_characters_on_non_ascii_lines(project: Write) -> None:
    source = SLOW_APP.replace(
        "    background_tasks.add_task(wait)", '    note = "héllo"; background_tasks.add_task(wait)'
    )
    project("app.py", source)
    _, out, _ = scan(".", "--format", "json")
    assert load_report(out)["call_sites"][0]["column"] == len('    note = "héllo"; ')


def test_helper_call_sites_name_the_endpoints_that_reach_them(project: Write) -> None:
    project(
        "app.py",
        """
        import time
        from fastapi import BackgroundTasks, FastAPI

        app = FastAPI()

        def wait() -> None:
            time.sleep(60)

        def schedule(tasks) -> None:
            tasks.add_task(wait)

        @app.post("/a")
        def a(background_tasks: BackgroundTasks):
            schedule(background_tasks)

        @app.put("/b")
        async def b(background_tasks: BackgroundTasks):
            schedule(tasks=background_tasks)
        """,
    )
    _, out, _ = scan(".", "--format", "json")
    (site,) = load_report(out)["call_sites"]
    assert site["function"] == "schedule"
    assert site["endpoint"] == "POST /a, PUT /b"


def test_unreadable_evidence_is_a_usage_error(project: Write) -> None:
    project("app.py", QUIET_APP)
    project("stats.json", '{"version": 99}')
    code, _, err = scan(".", "--evidence", "stats.json")
    assert code == 2
    assert err.startswith("bgmigrate: error: --evidence: cannot read runtime statistics")
    code, _, err = scan(".", "--evidence", "missing.json")
    assert code == 2


def test_unknown_rule_codes_are_usage_errors(project: Write) -> None:
    project("app.py", QUIET_APP)
    code, _, err = scan(".", "--select", "BGM999")
    assert code == 2
    assert "unknown rule code BGM999; valid codes: BGM101" in err
    assert scan(".", "--ignore", "BGM7")[0] == 2
    assert scan(".", "--ignore", "tests")[0] == 0  # a path pattern, not a code


def test_configured_paths_are_scanned_when_none_are_given(project: Write) -> None:
    project("pyproject.toml", '[tool.bgmigrate]\npaths = ["service"]\n')
    project("service/app.py", SLOW_APP)
    project("other/app.py", SLOW_APP)
    _, out, _ = scan("--format", "json")
    assert [s["path"] for s in load_report(out)["call_sites"]] == ["service/app.py"]


def test_explicit_config_file(project: Write) -> None:
    project("app.py", SLOW_APP)
    project("conf/custom.toml", '[tool.bgmigrate]\nignore = ["BGM101"]\n')
    assert scan(".", "--config", "conf/custom.toml")[0] == 0
    code, _, err = scan(".", "--config", "conf/missing.toml")
    assert code == 2
    assert "no such configuration file" in err


def test_annotated_and_walrus_aliases_are_followed(project: Write) -> None:
    source = SLOW_APP.replace(
        "    background_tasks.add_task(wait)",
        "    tasks: BackgroundTasks = background_tasks\n"
        "    tasks.add_task(wait)\n"
        "    if (queue := tasks) is not None:\n"
        "        queue.add_task(wait)",
    )
    project("app.py", source)
    _, out, _ = scan(".", "--format", "json")
    assert [s["line"] for s in load_report(out)["call_sites"]] == [12, 14]


def test_context_objects_holding_the_object_across_files(project: Write) -> None:
    project("app/__init__.py", "")
    project(
        "app/context.py",
        """
        from dataclasses import dataclass

        from fastapi import BackgroundTasks


        @dataclass
        class RequestContext:
            user_id: int
            tasks: BackgroundTasks


        def get_context(tasks: BackgroundTasks) -> RequestContext:
            return RequestContext(1, tasks)
        """,
    )
    project(
        "app/api.py",
        """
        import time
        from typing import Annotated

        from fastapi import Depends, FastAPI

        from app.context import RequestContext, get_context

        app = FastAPI()


        def wait() -> None:
            time.sleep(60)


        @app.post("/ctx")
        def post(ctx: Annotated[RequestContext, Depends(get_context)]) -> None:
            ctx.tasks.add_task(wait)
        """,
    )
    _, out, _ = scan(".", "--format", "json")
    (site,) = load_report(out)["call_sites"]
    assert (site["path"], site["endpoint"], site["verdict"]) == (
        "app/api.py",
        "POST /ctx",
        "migrate",
    )


def test_routes_registered_with_add_api_route(project: Write) -> None:
    source = SLOW_APP.replace('@app.post("/wait")\n', "") + (
        '\napp.add_api_route("/wait", post, methods=["PUT"])\n'
    )
    project("app.py", source)
    _, out, _ = scan(".", "--format", "json")
    assert load_report(out)["call_sites"][0]["endpoint"] == "PUT /wait"


def test_scanning_inside_the_import_root_still_resolves_tasks(project: Write) -> None:
    project("svc/api/__init__.py", "")
    project(
        "svc/api/tasks.py",
        """
        import time

        from bgmigrate import task


        @task
        def wait() -> None:
            time.sleep(60)
        """,
    )
    project(
        "svc/api/app.py",
        """
        from fastapi import FastAPI

        from bgmigrate import Tasks
        from svc.api.tasks import wait

        app = FastAPI()


        @app.post("/wait")
        def post(tasks: Tasks) -> None:
            tasks.add_task(wait)
        """,
    )
    _, out, _ = scan("svc/api", "--format", "json")  # no __init__.py in svc/
    (site,) = load_report(out)["call_sites"]
    assert site["task_path"] == "svc/api/tasks.py"
    assert site["verdict"] == "migrate"
    assert site["registered"] is True


def test_cache_goes_beside_pyproject_or_in_the_current_directory(
    project: Write, tmp_path: Path
) -> None:
    project("pkg/app.py", SLOW_APP)
    scan("pkg")
    assert (tmp_path / ".bgmigrate_cache").is_dir()
    assert not (tmp_path / "pkg" / ".bgmigrate_cache").exists()


def test_a_cached_run_reanalyses_files_whose_neighbours_changed(project: Write) -> None:
    helper = """
    import time

    def wait() -> None:
        time.sleep(60)

    def schedule(tasks) -> None:
        tasks.add_task(wait)
    """
    project("helpers.py", helper)
    api = project(
        "api.py",
        """
        from fastapi import BackgroundTasks, FastAPI

        from helpers import schedule

        app = FastAPI()

        @app.post("/a")
        def a(background_tasks: BackgroundTasks):
            schedule(background_tasks)
        """,
    )
    assert scan(".")[0] == 1  # helpers.schedule receives the object: its call site is found
    api.write_text(api.read_text().replace("schedule(background_tasks)", "pass"))
    _, out, _ = scan(".", "--format", "json")
    assert load_report(out)["call_sites"] == []  # the cached helper analysis is not reused


def test_a_file_over_the_size_cap_is_skipped_and_reported(project: Write) -> None:
    project("app.py", SLOW_APP)
    huge = Path("huge.py")
    with huge.open("w") as handle:  # a real 5 MB candidate file: it would take minutes to parse
        handle.write("from fastapi import BackgroundTasks\n")
        handle.writelines(f"x{i} = {i}\n" for i in range(500_000))
    size = huge.stat().st_size
    code, out, _ = scan("--no-cache", ".")
    assert code == 2
    assert (
        f"huge.py:1:1: error: skipped: {size:,} bytes, over the max-file-size of 4,000,000" in out
    )
    assert "app.py:11:5: POST /wait" in out


def test_the_size_cap_is_set_by_flag_or_pyproject(project: Write) -> None:
    app = project("app.py", SLOW_APP)
    size = app.stat().st_size
    assert scan("--no-cache", ".")[0] == 1
    code, out, _ = scan("--no-cache", "--max-file-size", str(size - 1), ".")
    assert (code, out.splitlines()[0]) == (
        2,
        f"app.py:1:1: error: skipped: {size:,} bytes, "
        f"over the max-file-size of {size - 1:,} (raise it with --max-file-size or "
        "[tool.bgmigrate] max-file-size)",
    )
    project("pyproject.toml", f"[tool.bgmigrate]\nmax-file-size = {size - 1}\n")
    assert scan("--no-cache", ".")[0] == 2
    assert scan("--no-cache", "--max-file-size", str(size), ".")[0] == 1


def test_file_names_are_escaped_in_text_and_carried_as_json_strings(project: Write) -> None:
    name = "x\nforged.py:1:1: error: \x1b[31mfake.py"
    Path(name).write_text(SLOW_APP)
    Path(os.fsdecode(b"b\xffyte.py")).write_text(SLOW_APP)
    _, out, _ = scan("--no-cache", ".")
    assert "x\\nforged.py:1:1: error: \\x1b[31mfake.py:12:5: POST /wait" in out
    assert "b\\xffyte.py:12:5:" in out
    assert "\x1b" not in out
    assert not any(line.startswith("forged.py") for line in out.splitlines())
    _, out, _ = scan("--no-cache", "--format", "json", ".")
    paths = {site["path"] for site in load_report(out)["call_sites"]}
    assert paths == {name, "b\udcffyte.py"}


def test_a_fifo_or_dev_zero_gitignore_does_not_stop_the_scan(project: Write) -> None:
    project("app.py", SLOW_APP)
    project("sub/app.py", SLOW_APP)
    os.mkfifo(".gitignore")  # opening it for reading would wait for a writer forever
    Path("sub/.gitignore").symlink_to("/dev/zero")  # reading it would never end
    code, out, _ = scan("--no-cache", ".")
    assert code == 1
    assert out.endswith(
        "2 files scanned, 2 parsed; 2 call sites (2 migrate); 0 other uses; 0 errors\n"
    )
