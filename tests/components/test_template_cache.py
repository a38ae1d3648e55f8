"""Compiled templates are kept per environment, bounded, and safe to ask for from threads."""

from __future__ import annotations

import threading

from ragrun.components.builders.templates import TEMPLATE_CACHE_SIZE, Sandbox


def test_a_template_is_compiled_once() -> None:
    env = Sandbox()
    first = env.compiled("Hi {{ name }}")
    assert env.compiled("Hi {{ name }}") is first
    assert first.render(name="Ada") == "Hi Ada"


def test_the_cache_is_bounded_and_drops_the_oldest() -> None:
    env = Sandbox()
    oldest = env.compiled("t0")
    for i in range(1, TEMPLATE_CACHE_SIZE + 1):
        env.compiled(f"t{i}")
    assert len(env._compiled) == TEMPLATE_CACHE_SIZE
    assert env.compiled("t0") is not oldest  # it was dropped, so compiled again


def test_threads_filling_the_cache_at_once_do_not_break_it() -> None:
    env = Sandbox()
    errors: list[BaseException] = []
    start = threading.Barrier(8, timeout=30)

    def fill(k: int) -> None:
        try:
            start.wait()
            for i in range(300):  # past the bound, so threads evict while others insert
                assert env.compiled(f"{k}-{i} {{{{ x }}}}").render(x=1) == f"{k}-{i} 1"
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=fill, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(env._compiled) == TEMPLATE_CACHE_SIZE
