"""Building instances from checked declarations (`declarations.Plan`), reporting what fails.

Only plans are built, and a plan exists only for a declaration that passed every check
(`declarations.py`), so the only constructors that ever run are those of allowed components
and of the allowed value types they take. Nested plans are built first, then their parent;
a constructor that raises is reported at its declaration and its parent is not built.

Nested declarations with the same class and the same parameters share one instance for the
whole load, so a writer and a retriever that both declare
`document_store: {type: InMemoryDocumentStore, init_parameters: {path: docs.store}}` use the
same store. Top-level components are never shared: each is its own node.
"""

from __future__ import annotations

from typing import Any

from .declarations import Plan, is_haystack_class
from .diagnostics import Problem
from .source import Source

_FAILED: Any = object()


class Builder:
    """Builds the plans of one load; failures go to `problems`, located in `source`."""

    def __init__(self, source: Source, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        self._shared: dict[tuple[type, str], Any] = {}

    def component(self, plan: Plan) -> Any | None:
        """Build a top-level component (never shared); None when a constructor failed."""
        instance = self._build(plan)
        return None if instance is _FAILED else instance

    def _nested(self, plan: Plan) -> Any:
        key = plan.sharing_key()
        if key not in self._shared:
            self._shared[key] = self._build(plan)
        return self._shared[key]

    def _argument(self, value: Any) -> Any:
        if isinstance(value, Plan):
            return self._nested(value)
        if isinstance(value, list) and any(isinstance(v, Plan) for v in value):
            items = [self._argument(v) for v in value]
            return _FAILED if any(v is _FAILED for v in items) else items
        return value

    def _build(self, plan: Plan) -> Any:
        cls = plan.cls
        if is_haystack_class(cls) and hasattr(cls, "from_dict"):
            # Haystack's own from_dict turns its serialized forms (secrets, types, chat
            # messages, stores) into Haystack objects; ragrun's forms would not fit. What it
            # deserializes was checked like everything else (declarations.py).
            data = {"type": f"{cls.__module__}.{cls.__qualname__}", "init_parameters": plan.written}
            return self._call(plan, lambda: cls.from_dict(data))
        kwargs = {name: self._argument(value) for name, value in plan.arguments.items()}
        if any(value is _FAILED for value in kwargs.values()):
            return _FAILED  # a nested constructor failed and was reported
        return self._call(plan, lambda: cls(**kwargs))

    def _call(self, plan: Plan, construct: Any) -> Any:
        try:
            return construct()
        except Exception as exc:  # the constructor's own checks: report them, located
            where = (*plan.path, "init_parameters") if plan.written else plan.path
            self.problems.append(
                self.source.problem(
                    where,
                    f"{plan.cls.__name__} rejected its init parameters: "
                    f"{type(exc).__name__}: {exc}",
                )
            )
            return _FAILED
