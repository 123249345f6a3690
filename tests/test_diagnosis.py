"""The doctor's version check reads bgmigrate's own pins and reports packages outside them."""

from __future__ import annotations

from packaging.requirements import Requirement

from bgmigrate.diagnosis import Check, Outcome, check_versions, failed, runtime_requirements, scrub
from bgmigrate.settings import load_settings


def test_runtime_requirements_are_the_core_and_extra_pins_without_dev_tools() -> None:
    found = {str(requirement) for requirement in runtime_requirements()}
    assert "celery[redis]<5.7,>=5.5" in found
    assert "redis<6,>=5" in found
    assert not any(text.startswith(("pytest", "mypy")) for text in found)


def test_a_celery_outside_the_pin_is_red_with_the_install_command() -> None:
    installed: dict[str, str] = {"celery": "5.7.0", "redis": "5.3.1"}
    pins = [Requirement("celery[redis]>=5.6,<5.7"), Requirement("redis>=5,<6")]
    checks = list(check_versions(pins, installed.get))
    assert [check.outcome for check in checks] == [Outcome.FAILED, Outcome.OK]
    assert checks[0].title == "celery 5.7.0 is installed"
    assert 'pip install "celery[redis]<5.7,>=5.6"' in checks[0].fix


def test_packages_of_extras_that_are_not_installed_are_not_reported() -> None:
    nothing: dict[str, str] = {}
    checks = list(check_versions([Requirement("arq>=0.26")], nothing.get))
    assert [(check.outcome, check.detail) for check in checks] == [(Outcome.OK, "")]


def test_scrub_hides_urls_and_passwords_in_details_and_fixes() -> None:
    url = "redis://app:p%40ss-word@redis.internal:6379/0"
    settings = load_settings(broker_url=url)
    check = failed(
        "broker reachable at redis://app:***@redis.internal:6379/0", f"{url} p@ss-word", "x"
    )
    cleaned = scrub(check, settings)
    assert cleaned.detail == "redis://app:***@redis.internal:6379/0 ***"
    assert cleaned.title == check.title


def test_scrub_leaves_free_text_alone_for_very_short_passwords() -> None:
    settings = load_settings(broker_url="amqp://ab:ab@127.0.0.1:5672//")
    cleaned = scrub(Check("t", Outcome.FAILED, "about amqp://x:ab@h/", "tab"), settings)
    assert (cleaned.detail, cleaned.fix) == ("about amqp://x:***@h/", "tab")
