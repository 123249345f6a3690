"""The doctor's version check reads bgmigrate's own pins and reports packages outside them."""

from __future__ import annotations

from packaging.requirements import Requirement

from bgmigrate.doctor import Outcome, check_versions, runtime_requirements


def test_runtime_requirements_are_the_core_and_extra_pins_without_dev_tools() -> None:
    found = {str(requirement) for requirement in runtime_requirements()}
    assert "celery[redis]<5.7,>=5.6" in found
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
