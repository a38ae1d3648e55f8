"""Templates are bounded: no operation builds anything huge, at compile or render time, and a
template given at run time is stopped after its time limit."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from jinja2 import TemplateSyntaxError

from ragrun.components.builders import templates
from ragrun.components.builders.chat_prompt_builder import ChatPromptBuilder
from ragrun.components.builders.prompt_builder import PromptBuilder
from ragrun.components.builders.template_deadline import TemplateTimeoutError, within
from ragrun.components.builders.template_limits import TemplateLimitError
from ragrun.components.builders.templates import NativeSandbox, Sandbox
from ragrun.components.routers.conditional_router import ConditionalRouter

HANG_GUARD = 30.0
"""Seconds after which a bounded operation is taken to hang (a safety net, not a timing)."""

COMPILE_TIME_BOMBS = [
    pytest.param("{{ 7 ** 123456789 }}", "would be an integer of about", id="power"),
    pytest.param("{{ (7 ** 1000) ** 1000 }}", "would be an integer", id="power-of-a-power"),
    pytest.param("{{ 9 ** 4000 * 9 ** 4000 }}", "a product of about", id="product"),
    pytest.param("{{ 'x' * 10 ** 10 }}", "repeating a str would build", id="str-repeat"),
    pytest.param("{{ [0] * 999999999 }}", "repeating a list would build", id="list-repeat"),
    pytest.param("{{ '%999999999d' % 1 }}", "field widths of a format string", id="printf-width"),
    pytest.param("{{ '%*d' % (9, 1) }}", "takes its width from the values", id="printf-star"),
    pytest.param("{{ ''|center(999999999) }}", "the center filter would build", id="center"),
    pytest.param("{{ 'a'|indent(999999999) }}", "the indent filter", id="indent"),
    pytest.param("{{ '%999999999s'|format('') }}", "field widths", id="format-filter"),
    pytest.param("Hi {{ name }}\n{{ 2 ** 99999 }}", "line 2 of the template", id="names-the-line"),
]


@pytest.mark.parametrize(("source", "message"), COMPILE_TIME_BOMBS)
def test_bombs_written_in_a_template_are_refused_when_it_compiles(
    source: str, message: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateSyntaxError) as caught:
        Sandbox().from_string(source)
    assert message in str(caught.value)
    assert time.perf_counter() - started < HANG_GUARD


RUN_TIME_BOMBS = [
    pytest.param("{{ n ** m }}", {"n": 7, "m": 123456789}, "would be an integer", id="power"),
    pytest.param("{{ s * n }}", {"s": "ab", "n": 10**9}, "repeating a str", id="repeat"),
    pytest.param(
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}",
        {},
        "joining with ~",
        id="doubling-with-tilde",
    ),
    pytest.param(
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}",
        {},
        "joining two values with +",
        id="doubling-with-plus",
    ),
    pytest.param("{{ s.center(n) }}", {"s": "a", "n": 10**9}, "str.center", id="center-method"),
    pytest.param("{{ s.zfill(n) }}", {"s": "1", "n": 10**9}, "str.zfill", id="zfill-method"),
    pytest.param(
        "{{ s.replace('', t) }}",
        {"s": "a" * 5000, "t": "b" * 5000},
        "str.replace",
        id="replace-method",
    ),
    pytest.param(
        "{{ t.join(items) }}",
        {"t": "x" * 10**4, "items": list(range(10**4))},
        "str.join",
        id="join-method",
    ),
    pytest.param("{{ '{:{w}}'.format(1, w=10**9) }}", {}, "takes its width", id="format-nested"),
    pytest.param("{{ '{:999999999}'.format(1) }}", {}, "field widths", id="format-method"),
    pytest.param("{{ n.to_bytes(10**9, 'big') }}", {"n": 1}, "int.to_bytes", id="to-bytes"),
    pytest.param(
        "{{ items|join(s) }}",
        {"items": list(range(10**4)), "s": "y" * 10**4},
        "the join filter",
        id="join-filter",
    ),
    pytest.param(
        "{{ items|batch(n, 0)|list }}",
        {"items": [1], "n": 10**9},
        "the batch filter",
        id="batch-fill",
    ),
    pytest.param(
        "{{ items|slice(n)|list }}", {"items": [1], "n": 10**9}, "at most 100000 slices", id="slice"
    ),
    pytest.param("{{ lipsum(n) }}", {"n": 10**6}, "lipsum makes at most", id="lipsum"),
    pytest.param(
        "{% for i in range(2000) %}{{ s }}{% endfor %}",
        {"s": "z" * 10**4},
        "the template's output",
        id="output",
    ),
    pytest.param(
        "{% macro twice(s) %}{{ s }}{{ s }}{% endmacro %}"
        "{% set ns = namespace(s='x' * 10**6) %}{% for i in range(8) %}"
        "{% set ns.s = twice(ns.s) %}{% endfor %}",
        {},
        "build",
        id="macro-doubling",
    ),
]


@pytest.mark.parametrize(("source", "values", "message"), RUN_TIME_BOMBS)
def test_bombs_built_from_run_data_are_refused_before_they_grow(
    source: str, values: dict[str, Any], message: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateLimitError) as caught:
        Sandbox().from_string(source).render(**values)
    assert message in str(caught.value)
    assert time.perf_counter() - started < HANG_GUARD


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        pytest.param(
            "{{ '-' * 10 }} {{ 2 ** 10 }} {{ 3 * 4 }}", {}, "---------- 1024 12", id="ops"
        ),
        pytest.param("{{ '%5d|%-3s|' % (42, 'a') }}", {}, "   42|a  |", id="printf"),
        pytest.param("{{ '{:>6}'.format(x) }}", {"x": "ab"}, "    ab", id="format"),
        pytest.param(
            "{{ x|center(6) }}|{{ items|join(', ') }}",
            {"x": "ab", "items": [1, 2]},
            "  ab  |1, 2",
            id="filters",
        ),
        pytest.param("{{ a ~ b }} {{ a + b }}", {"a": "x", "b": "y"}, "xy xy", id="concat"),
        pytest.param(
            "{% macro m(v) %}<{{ v }}>{% endmacro %}{{ m(1) }}{{ m(2) }}", {}, "<1><2>", id="macros"
        ),
        pytest.param("{{ (2 ** 64) * 3 }}", {}, str(3 * 2**64), id="big-but-bounded"),
    ],
)
def test_ordinary_templates_render_as_before(
    source: str, values: dict[str, Any], expected: str
) -> None:
    assert Sandbox().from_string(source).render(**values) == expected


def test_native_renders_keep_their_python_values_within_the_bounds() -> None:
    env = NativeSandbox()
    assert env.from_string("{{ [1, 2] * 2 }}").render() == [1, 2, 1, 2]
    assert env.from_string("{{ n > 3 }}").render(n=5) is True
    with pytest.raises(TemplateLimitError):
        env.from_string("{{ n ** m }}").render(n=10, m=10**6)


def test_a_router_whose_condition_is_a_bomb_is_refused_when_built() -> None:
    route = {
        "condition": "{{ 7 ** 123456789 }}",
        "output": "{{ n }}",
        "output_name": "a",
        "output_type": "int",
    }
    with pytest.raises(ValueError, match="would be an integer of about"):
        ConditionalRouter([route])


# -- the time limit ----------------------------------------------------------------------------


def test_a_call_past_its_deadline_is_stopped_in_its_thread() -> None:
    def spin() -> None:
        while True:
            pass

    started = time.perf_counter()
    with pytest.raises(TemplateTimeoutError, match=r"longer than 0\.2 s"):
        within(0.2, spin)
    assert time.perf_counter() - started < HANG_GUARD


def test_calls_that_end_around_their_deadline_leave_nothing_behind() -> None:
    """Thousands of calls ending just before or after their deadline: each returns its value or
    is stopped, and no stopping exception lands later, outside its call."""
    stopped = 0
    for _ in range(2000):
        try:
            assert within(0.0005, lambda: sum(range(300))) == sum(range(300))
        except TemplateTimeoutError:
            stopped += 1
    total = 0
    for i in range(300_000):  # plenty of bytecodes for a stray exception to land on
        total += i
    assert total == sum(range(300_000))
    assert stopped < 2000  # most end in time; which ones depends on the machine's load


def test_deadlines_in_several_threads_each_stop_their_own_call() -> None:
    outcomes: dict[int, str] = {}

    def work(n: int) -> None:
        try:
            within(0.3 if n % 2 else 30.0, lambda: _spin_until(n))
            outcomes[n] = "returned"
        except TemplateTimeoutError:
            outcomes[n] = "stopped"

    stop_even = threading.Event()

    def _spin_until(n: int) -> None:
        while n % 2 or not stop_even.is_set():
            pass

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads[1::2]:
        thread.join(HANG_GUARD)
    stop_even.set()
    for thread in threads[::2]:
        thread.join(HANG_GUARD)
    assert outcomes == {0: "returned", 1: "stopped", 2: "returned", 3: "stopped"}


NESTED_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"


def test_a_run_time_template_that_runs_too_long_fails_its_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(templates, "RUN_TIME_TEMPLATE_LIMIT", 0.2)
    started = time.perf_counter()
    with pytest.raises(TemplateTimeoutError):
        PromptBuilder(template="{{ q }}").run(template=NESTED_LOOPS, q="x")
    with pytest.raises(TemplateTimeoutError):
        ChatPromptBuilder(template="{{ q }}").run(template=NESTED_LOOPS, q="x")
    assert time.perf_counter() - started < HANG_GUARD
    assert PromptBuilder(template="{{ q }}").run(template="<{{ q }}>", q="x") == {"prompt": "<x>"}


@pytest.mark.anyio
async def test_run_time_templates_render_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While a slow run-time template renders, the loop goes on: a tick gets through."""
    import anyio

    monkeypatch.setattr(templates, "RUN_TIME_TEMPLATE_LIMIT", 0.5)
    ticked = anyio.Event()
    builder = PromptBuilder(template="{{ q }}")

    async def slow() -> None:
        with pytest.raises(TemplateTimeoutError):
            await builder.run_async(template=NESTED_LOOPS, q="x")
        assert ticked.is_set()  # the tick ran while the template was rendering

    async def tick() -> None:
        await anyio.sleep(0)
        ticked.set()

    with anyio.fail_after(HANG_GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            tg.start_soon(tick)
