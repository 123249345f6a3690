import itertools

import pytest

from bgmigrate.testing.polling import WaitTimeout, wait_until


def test_wait_until_returns_the_first_truthy_probe_value() -> None:
    counter = itertools.count()
    assert (
        wait_until(lambda: next(counter) >= 3 and "done", timeout=5, what="three calls") == "done"
    )


def test_wait_until_names_what_it_waited_for_when_it_times_out() -> None:
    with pytest.raises(WaitTimeout, match="waiting for the moon"):
        wait_until(lambda: None, timeout=0.05, what="the moon")
