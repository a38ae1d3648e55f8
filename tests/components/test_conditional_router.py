"""ConditionalRouter: first true route fires alone, native outputs, sockets, sandbox."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest

from ragrun import Document, sockets_of
from ragrun.components.routers.conditional_router import (
    ConditionalRouter,
    NoRouteSelectedError,
    RouteConditionError,
    matches_type,
)
from ragrun.components.type_names import TypeNameError
from ragrun.sockets import NO_DEFAULT


def route(condition: str, output: str, name: str, type_: Any = "str", **extra: Any) -> dict:
    return {
        "condition": condition,
        "output": output,
        "output_name": name,
        "output_type": type_,
        **extra,
    }


ROUTES = [
    route("{{ documents|length > 2 }}", "{{ documents }}", "many", "list[Document]"),
    route("{{ documents|length > 0 }}", "{{ documents[0] }}", "one", "Document"),
    route("{{ True }}", "{{ query }}", "none", "str"),
]

DOCS = [Document(content=str(i)) for i in range(3)]


@pytest.mark.parametrize(
    ("documents", "expected_key"),
    [
        pytest.param(DOCS, "many", id="first-route"),
        pytest.param(DOCS[:1], "one", id="second-route"),
        pytest.param([], "none", id="fallback"),
    ],
)
def test_only_the_first_true_route_fires(documents: list[Document], expected_key: str) -> None:
    result = ConditionalRouter(ROUTES).run(documents=documents, query="q")
    assert list(result) == [expected_key]


def test_outputs_are_native_values_not_text() -> None:
    router = ConditionalRouter(ROUTES)
    many = router.run(documents=DOCS, query="q")["many"]
    assert many == DOCS and all(a is b for a, b in zip(many, DOCS, strict=True))
    assert router.run(documents=DOCS[:1], query="q")["one"] is DOCS[0]


@pytest.mark.parametrize(
    ("output", "type_", "inputs", "expected"),
    [
        pytest.param("{{ q }}", "str", {"q": "123"}, "123", id="str-stays-text"),
        pytest.param("{{ q }}", "int", {"q": "123"}, 123, id="literal-read"),
        pytest.param("{{ n * 2 }}", "int", {"n": 4}, 8, id="arithmetic"),
        pytest.param("{{ [a, b] }}", "list[int]", {"a": 1, "b": 2}, [1, 2], id="list"),
        pytest.param("{{ {'k': a} }}", "dict[str, int]", {"a": 1}, {"k": 1}, id="dict"),
        pytest.param("x-{{ a }}", "str", {"a": 1}, "x-1", id="text-around"),
        pytest.param("{{ d.missing }}", "Any", {"d": {}}, None, id="undefined-is-none"),
    ],
)
def test_output_rendering(output: str, type_: str, inputs: dict[str, Any], expected: Any) -> None:
    router = ConditionalRouter([route("{{ True }}", output, "out", type_)])
    result = router.run(**inputs)
    assert result == {"out": expected}
    assert type(result["out"]) is type(expected)


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        pytest.param("{{ x == 'a' }}", True, id="bool"),
        pytest.param("{{ x == 'b' }}", False, id="false"),
        pytest.param(" {{ x == 'b' }} ", False, id="padded-false-text"),
        pytest.param("{% if x == 'a' %}True{% else %}False{% endif %}", True, id="statement"),
        pytest.param("{{ [] }}", False, id="empty-list"),
        pytest.param("{{ 'a' in x }}", True, id="in"),
    ],
)
def test_conditions(condition: str, fires: bool) -> None:
    router = ConditionalRouter([route(condition, "yes", "hit"), route("{{ True }}", "no", "miss")])
    assert router.run(x="a") == ({"hit": "yes"} if fires else {"miss": "no"})


def test_sockets_from_variables_and_output_types() -> None:
    router = ConditionalRouter(ROUTES, optional_variables=["query"])
    sockets = sockets_of(router)
    assert {n: s.default for n, s in sockets.inputs.items()} == {
        "documents": NO_DEFAULT,
        "query": None,
    }
    assert {n: s.type for n, s in sockets.outputs.items()} == {
        "many": list[Document],
        "one": Document,
        "none": str,
    }


def test_optional_variable_is_none_when_missing() -> None:
    routes = [
        route("{{ path == 'rag' }}", "{{ q }}", "rag"),
        route("{{ True }}", "{{ q }}", "plain"),
    ]
    router = ConditionalRouter(routes, optional_variables=["path"])
    assert router.run(q="x") == {"plain": "x"}
    assert router.run(q="x", path="rag") == {"rag": "x"}


def test_unused_optional_variable_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        ConditionalRouter(ROUTES, optional_variables=["qurey"])
    assert "qurey" in caplog.text


def test_no_route_fired_names_the_conditions() -> None:
    router = ConditionalRouter([route("{{ n > 3 }}", "{{ n }}", "big", "int")])
    with pytest.raises(NoRouteSelectedError, match=r"\{\{ n > 3 \}\}.*fallback"):
        router.run(n=1)


def test_several_outputs_and_passthrough() -> None:
    routes = [
        {
            "condition": "{{ True }}",
            "output": ["{{ q | upper }}", "{{ n + 1 }}"],
            "output_name": ["text", "number"],
            "output_type": ["str", "int"],
        }
    ]
    assert ConditionalRouter(routes).run(q="a", n=1) == {"text": "A", "number": 2}
    obj = object()
    passthrough = [route("{{ flag }}", "payload", "out", "Any", output_passthrough=True)]
    router = ConditionalRouter(passthrough)
    assert set(sockets_of(router).inputs) == {"flag", "payload"}
    assert router.run(flag=True, payload=obj)["out"] is obj


@pytest.mark.parametrize(
    ("template", "inputs"),
    [
        pytest.param("{{ x.__class__.__mro__ }}", {"x": 1}, id="dunder"),
        pytest.param("{{ cycler.__init__.__globals__ }}", {"x": 1}, id="globals"),
        pytest.param("{{ x.append(1) }}", {"x": []}, id="mutate"),
    ],
)
def test_rendering_is_sandboxed(template: str, inputs: dict[str, Any]) -> None:
    for routes in ([route(template, "x", "out")], [route("{{ True }}", template, "out", "Any")]):
        with pytest.raises(RouteConditionError, match="not allowed in the sandbox"):
            ConditionalRouter(routes, optional_variables=["x"]).run(**inputs)


def test_render_errors_name_the_route() -> None:
    router = ConditionalRouter([route("{{ 1 / n }}", "x", "out")])
    with pytest.raises(RouteConditionError, match=r"route 0: cannot render.*ZeroDivisionError"):
        router.run(n=0)


@pytest.mark.parametrize(
    ("value", "declared", "ok"),
    [
        pytest.param([1, 2], list[int], True, id="list-int"),
        pytest.param([1, "a"], list[int], False, id="list-mixed"),
        pytest.param("ab", list[str], False, id="str-not-list"),
        pytest.param({"a": 1}, dict[str, int], True, id="dict"),
        pytest.param(None, int | None, True, id="optional"),
        pytest.param(DOCS, list[Document], True, id="documents"),
        pytest.param((1, "a"), tuple[int, str], True, id="tuple"),
        pytest.param(3, Any, True, id="any"),
    ],
)
def test_matches_type(value: Any, declared: Any, ok: bool) -> None:
    assert matches_type(value, declared) is ok


def test_validate_output_type() -> None:
    routes = [route("{{ True }}", "{{ [1, 'a'] }}", "out", "list[int]")]
    assert ConditionalRouter(routes).run() == {"out": [1, "a"]}
    with pytest.raises(ValueError, match="not the declared"):
        ConditionalRouter(routes, validate_output_type=True).run()


def test_custom_filters_from_python_only() -> None:
    routes = [route("{{ q | shout == 'HI!' }}", "{{ q | shout }}", "out")]
    router = ConditionalRouter(routes, custom_filters={"shout": lambda s: s.upper() + "!"})
    assert router.run(q="hi") == {"out": "HI!"}
    with pytest.raises(ValueError, match="from Python only"):
        ConditionalRouter(routes, custom_filters={"shout": "os.system"})  # type: ignore[dict-item]


def test_unsafe_is_accepted_but_rendering_stays_sandboxed(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        router = ConditionalRouter([route("{{ x.__class__ }}", "x", "out")], unsafe=True)
    assert "unsafe=True is ignored" in caplog.text
    with pytest.raises(NoRouteSelectedError):
        router.run(x=1)  # the attribute is refused (undefined), so the condition is false


@pytest.mark.parametrize(
    ("routes", "error", "message"),
    [
        pytest.param(["not a dict"], ValueError, "must be a mapping", id="not-mapping"),
        pytest.param(
            [{"condition": "{{ True }}"}], ValueError, "lacks output, output_name", id="missing"
        ),
        pytest.param(
            [route("{{ True ", "x", "o")], ValueError, "invalid Jinja2", id="bad-condition"
        ),
        pytest.param(
            [route("{{ True }}", "{% if %}", "o")], ValueError, "invalid Jinja2", id="bad-output"
        ),
        pytest.param(
            [route(True, "x", "o")], ValueError, "must be a Jinja2 template", id="bool-condition"
        ),  # type: ignore[arg-type]
        pytest.param(
            [
                {
                    "condition": "{{ True }}",
                    "output": ["a", "b"],
                    "output_name": ["x"],
                    "output_type": ["str"],
                }
            ],
            ValueError,
            "same length",
            id="lengths",
        ),
        pytest.param(
            [route("{{ True }}", "x", "o", "os.system")], TypeNameError, "not an allowed", id="type"
        ),
        pytest.param(
            [route("{{ True }}", "x", "o", "str"), route("{{ True }}", "x", "o", "int")],
            ValueError,
            "two types",
            id="conflicting-types",
        ),
    ],
)
def test_bad_routes(routes: list[Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        ConditionalRouter(routes)


def test_router_pickles_for_process_pools() -> None:
    router = ConditionalRouter(ROUTES)
    router.run(documents=DOCS, query="q")  # fills the template caches, which must not travel
    clone = pickle.loads(pickle.dumps(router))
    assert clone.run(documents=DOCS[:1], query="q") == {"one": DOCS[0]}
    assert sockets_of(clone).outputs.keys() == sockets_of(router).outputs.keys()
