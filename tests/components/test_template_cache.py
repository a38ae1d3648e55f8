"""Compiled templates are kept per environment, bounded, and safe to ask for from threads."""

from __future__ import annotations

from ragrun.components.builders.templates import TEMPLATE_CACHE_SIZE, Sandbox
from tests.at_once import errors_at_once


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

    def fill(k: int) -> None:
        for i in range(300):  # past the bound, so threads evict while others insert
            assert env.compiled(f"{k}-{i} {{{{ x }}}}").render(x=1) == f"{k}-{i} 1"

    assert errors_at_once(fill, threads=8) == []
    assert len(env._compiled) == TEMPLATE_CACHE_SIZE
