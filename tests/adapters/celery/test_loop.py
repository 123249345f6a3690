"""One event loop per Celery worker process (and thread), never inherited through fork."""

from __future__ import annotations

import asyncio
import os
import threading

from bgmigrate.adapters.celery import loop as celery_loop


async def _loop_id() -> int:
    return id(asyncio.get_running_loop())


def test_coroutines_of_one_thread_share_one_loop_until_it_is_closed() -> None:
    first = celery_loop.run(_loop_id())
    runner = celery_loop._holder.runner
    assert celery_loop.run(_loop_id()) == first
    celery_loop.close()
    assert celery_loop._holder.runner is None
    celery_loop.run(_loop_id())
    assert celery_loop._holder.runner is not runner
    celery_loop.close()


def test_each_thread_has_its_own_loop() -> None:
    here = celery_loop.run(_loop_id())
    seen: list[int] = []

    def in_thread() -> None:
        seen.append(celery_loop.run(_loop_id()))
        celery_loop.close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    celery_loop.close()
    assert seen
    assert seen[0] != here


def test_a_forked_child_does_not_reuse_its_parents_loop() -> None:
    parent_runner = (celery_loop.run(_loop_id()), celery_loop._holder.runner)[1]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a runner of its own
        celery_loop.run(_loop_id())
        os.write(write, b"new" if celery_loop._holder.runner is not parent_runner else b"old")
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    answer = os.read(read, 3)
    os.close(read)
    celery_loop.close()
    assert answer == b"new"
