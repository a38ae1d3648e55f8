"""The sandboxed Jinja2 environments templates render in, and template variables as sockets.

Prompt templates and router conditions come from YAML files, which may come from anyone, so
they never render in a plain Jinja2 environment: Jinja2's sandbox refuses dunder attributes and
unsafe calls, the immutable flavour also refuses methods that change their object (the values a
template sees are shared with other components), and ragrun's subclass further refuses to
reach into or call modules (a module leaked into the context by a filter is a way out).

It also bounds what a template may build, at compile time as at render time: no operation may
make an integer over 14,000 bits or a string or list over 10 million items, and no render may
output more (`template_limits.py`). A template given at run time (a builder's `template`
socket, fed by run data or by another component) also renders with a time limit,
`RUN_TIME_TEMPLATE_LIMIT` seconds, off the event loop (`render_run_time`), so a slow one fails
its own run and holds up no other.

`NativeSandbox` renders an expression to the Python value itself (`{{ documents }}` gives the
list, `{{ n > 3 }}` gives `True`), which ConditionalRouter needs for its outputs and conditions.

`template_variables` finds what a template reads; `declare_variable_sockets` and
`check_required` turn those into the prompt builders' input sockets and check them at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, Literal, TypeVar

from jinja2 import Template, meta, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate, native_concat
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ragrun import component

from . import template_limits as limits
from .template_deadline import within

T = TypeVar("T")

# Callables defined in these modules are refused even when reached through a value's method.
_DANGEROUS_MODULES = frozenset(
    {
        "os",
        "sys",
        "subprocess",
        "shutil",
        "socket",
        "importlib",
        "ctypes",
        "posix",
        "nt",
        "pty",
        "pickle",
        "marshal",
        "shelve",
        "multiprocessing",
        "builtins",
        "code",
        "pdb",
    }
)


TEMPLATE_CACHE_SIZE = 256
"""Compiled templates an environment keeps (a builder's run-time templates, a router's routes)."""
CACHEABLE_SOURCE = 64 * 1024
"""The longest template source (in characters) the compiled-template cache keeps."""
RUN_TIME_TEMPLATE_LIMIT = 2.0
"""Seconds a template given at run time may take to compile and render."""


class _BoundedJoin:
    """The code generators' `~`: through `environment.bounded_join`, not an unbounded join."""

    @optimizeconst
    def visit_Concat(self: Any, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_join(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _CodeGenerator(_BoundedJoin, CodeGenerator):
    pass


class _NativeCodeGenerator(_BoundedJoin, NativeCodeGenerator):
    pass


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, also closed to modules and callables from dangerous ones,
    and bounded in what one template may build (see the module docstring)."""

    code_generator_class: type[CodeGenerator] = _CodeGenerator
    intercepted_binops = limits.BOUNDED_BINOPS
    concat = staticmethod(limits.bounded_concat)  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters.update(limits.BOUNDED_FILTERS)
        self.globals["lipsum"] = limits.bounded_lipsum
        self._compiled: dict[str, Template] = {}
        self._compiled_lock = threading.Lock()

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse, then evaluate the bounded operations on constants (a bomb is refused here)."""
        tree = super()._parse(source, name, filename)
        limits.check_constants(tree, nodes.EvalContext(self, name))
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """`**`, `*`, `%` and `+`, refused before they run when the result would be too large."""
        return limits.bounded_binop(operator, left, right)

    def bounded_join(self, context: Context, items: tuple[Any, ...]) -> str:
        """The `~` operator, within the size limit."""
        return limits.bounded_join(bool(context.eval_ctx.autoescape), items)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from the template: sized string methods checked first, every result after."""
        limits.check_call(__obj, args, kwargs)
        return limits.check_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`str.format` and `format_map`, their field widths checked before they run."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            limits.check_format_widths(template, printf=False)
            return limits.check_result(wrapped(*args, **kwargs))

        return bounded

    def compiled(self, source: str) -> Template:
        """`source` compiled once: `from_string` compiles anew on every call (~170 µs for a
        one-line prompt, Jinja2's cache serves loaders only), which a pipeline would pay per run.

        Worker threads may ask at once (a builder in a chain of sync components): the cache is
        read and changed under a lock, and compiling happens outside it (two threads may both
        compile a new source; one result is kept). A source over `CACHEABLE_SOURCE` characters
        is compiled each time, not kept: run data must not fill memory with huge templates.
        """
        cache = self._compiled
        with self._compiled_lock:
            found = cache.get(source)
        if found is not None:
            return found
        made = self.from_string(source)
        if len(source) > CACHEABLE_SOURCE:
            return made
        with self._compiled_lock:
            if source not in cache and len(cache) >= TEMPLATE_CACHE_SIZE:
                cache.pop(next(iter(cache)))  # the oldest goes: one-off templates
            return cache.setdefault(source, made)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Refuse any attribute of a module; otherwise the immutable sandbox's rule."""
        if isinstance(obj, ModuleType):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj: Any) -> bool:
        """Refuse modules and functions whose home is a process-, file- or import-level module."""
        if isinstance(obj, ModuleType):
            return False
        home = (getattr(obj, "__module__", None) or "").partition(".")[0]
        if home in _DANGEROUS_MODULES and not isinstance(obj, type):
            return False
        return super().is_safe_callable(obj)


class NativeSandbox(Sandbox):
    """The same sandbox, rendering `{{ expr }}` to the Python value instead of its text.

    As in `jinja2.nativetypes`, a template that renders to a single expression yields that value,
    and text that reads as a Python literal (`"[1, 2]"`, `"True"`) is turned into the literal.
    """

    code_generator_class = _NativeCodeGenerator
    concat = staticmethod(lambda values: native_concat(limits.counted(values)))  # type: ignore[assignment]


NativeSandbox.template_class = NativeTemplate


def render_run_time(render: Callable[[], T]) -> T:
    """`render()` (compiling and rendering a template given at run time) in this thread, stopped
    with `TemplateTimeoutError` after `RUN_TIME_TEMPLATE_LIMIT` seconds. The builders call it
    from a worker thread (their `run_async`), so the event loop goes on meanwhile."""
    return within(RUN_TIME_TEMPLATE_LIMIT, render)


def template_variables(env: Sandbox, source: str) -> set[str]:
    """The variables a template reads from its context (`{% set %}` names excluded)."""
    tree = env.parse(source)
    return set(meta.find_undeclared_variables(tree)) - _assigned_names(tree)


def _assigned_names(tree: nodes.Template) -> set[str]:
    # find_undeclared_variables already skips names set before use; a name set inside a block
    # and read elsewhere can still slip through, so drop every `{% set %}` target as Haystack does.
    names: set[str] = set()
    for assign in tree.find_all(nodes.Assign):
        targets = (
            assign.target.items
            if isinstance(assign.target, nodes.Tuple | nodes.List)
            else [assign.target]
        )
        names.update(t.name for t in targets if isinstance(t, nodes.Name))
    return names


def declare_variable_sockets(
    instance: Any, variables: list[str], required: list[str] | Literal["*"] | None
) -> None:
    """Give a builder one input socket (type Any) per template variable.

    Required ones (all of them with `"*"`, Haystack's default) have no default, so the pipeline
    refuses to run while nothing feeds them; the others default to `""` as in Haystack, so a
    missing optional variable renders as nothing.
    """
    for name in variables:
        if required == "*" or name in (required or []):
            component.set_input_type(instance, name, Any)
        else:
            component.set_input_type(instance, name, Any, default="")


def check_required(
    owner: str, variables: list[str], required: list[str] | Literal["*"] | None, given: set[str]
) -> None:
    """Raise ValueError naming every required variable missing from `given`."""
    wanted = sorted(variables) if required == "*" else list(required or [])
    missing = [name for name in wanted if name not in given]
    if missing:
        raise ValueError(
            f"{owner}: missing required template variables: {', '.join(missing)} "
            f"(required: {', '.join(wanted)}; given: {', '.join(sorted(given)) or 'none'}). "
            "Feed them through a connection or the run's data, or list only the variables that "
            "must be given in required_variables."
        )
