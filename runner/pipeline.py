"""`Pipeline`: what was declared — components, their policies, connections, public inputs/outputs.

A `Pipeline` is the definition only. Loading lives in `loader.py`, YAML output in `dump.py`, one
execution in `executor.py`, many in `batch.py`; the methods here are thin doors onto them so the
Python API reads like Haystack's.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .component import is_component, sockets_of
from .connections import Connection, ConnectionProblem, resolve, split_address
from .diagnostics import Problem
from .errors import PipelineValidationError
from .policy import ComponentPolicy
from .sockets import Sockets
from .suggest import did_you_mean

if TYPE_CHECKING:
    from .events import Event
    from .graph import Graph


@dataclass
class Node:
    """One component of a pipeline: its name, instance, sockets and run policy."""

    name: str
    instance: Any
    sockets: Sockets
    policy: ComponentPolicy = field(default_factory=ComponentPolicy)

    @property
    def class_name(self) -> str:
        """The component's class name, for messages."""
        return type(self.instance).__name__


class Pipeline:
    """A graph of components joined by typed sockets.

    Args:
        metadata: free-form data kept with the pipeline (`name`, `description`, ...).
        max_runs_per_component: how often one component may run in one run (loop guard).
        inputs: public input names mapped to the `component.socket` addresses they feed.
        outputs: public output names mapped to the `component.socket` they come from.
        max_concurrency: components of one run allowed in flight at once.
        input_defaults: values for public inputs that a run may leave out.
    """

    def __init__(
        self,
        metadata: Mapping[str, Any] | None = None,
        max_runs_per_component: int = 100,
        *,
        inputs: Mapping[str, Iterable[str]] | None = None,
        outputs: Mapping[str, str] | None = None,
        max_concurrency: int = 16,
        input_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.max_runs_per_component = max_runs_per_component
        self.max_concurrency = max_concurrency
        self.nodes: dict[str, Node] = {}
        self.connections: list[Connection] = []
        self.inputs: dict[str, list[str]] = {k: list(v) for k, v in (inputs or {}).items()}
        self.outputs: dict[str, str] = dict(outputs or {})
        self.input_defaults: dict[str, Any] = dict(input_defaults or {})
        self.ray: dict[str, Any] = {}
        """The YAML's `ray:` settings for `--backend ray` (only the keys it set)."""
        self.filled_secrets: dict[str, str] = {}
        """Values the loader filled from variables that look like secrets, by variable name:
        `dumps` writes `${NAME}` back in their place, never the value."""
        self._graph: Graph | None = None
        self._warmed_up = False

    # -- building ---------------------------------------------------------------------------

    def add_component(
        self, name: str, instance: Any, *, policy: ComponentPolicy | None = None
    ) -> None:
        """Add a component instance under a unique name, with an optional run policy."""
        if name in self.nodes:
            raise PipelineValidationError(
                [Problem("components", f"a component named '{name}' already exists")]
            )
        if "." in name:
            raise PipelineValidationError(
                [Problem("components", f"'{name}': component names cannot contain '.'")]
            )
        if not is_component(instance):
            raise PipelineValidationError(
                [
                    Problem(
                        f"components.{name}",
                        f"expected a component instance, found {type(instance).__name__} "
                        "(decorate its class with @component)",
                    )
                ]
            )
        self.nodes[name] = Node(name, instance, sockets_of(instance), policy or ComponentPolicy())
        self._changed()

    def connect(self, sender: str, receiver: str) -> Pipeline:
        """Connect `sender` (`comp.output` or `comp`) to `receiver` (`comp.input` or `comp`).

        Raises:
            PipelineValidationError: the sockets do not exist, do not match, or the receiver
                is already fed (and is not Variadic).
        """
        try:
            connection = resolve(
                {n: node.sockets for n, node in self.nodes.items()},
                {n: node.class_name for n, node in self.nodes.items()},
                sender,
                receiver,
                self.connections,
            )
        except ConnectionProblem as exc:
            raise PipelineValidationError([Problem("connect", str(exc))]) from None
        self.connections.append(connection)
        self._changed()
        return self

    def get_component(self, name: str) -> Any:
        """The instance registered under `name`."""
        try:
            return self.nodes[name].instance
        except KeyError:
            raise KeyError(f"no component '{name}'.{did_you_mean(name, self.nodes)}") from None

    def graph(self) -> Graph:
        """The compiled graph the executor runs (built once, rebuilt after a change)."""
        if self._graph is None:
            from .graph import Graph

            self._graph = Graph.build(self)
        return self._graph

    def _changed(self) -> None:
        self._graph = None

    # -- loading and saving -----------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        overrides: Mapping[str, Any] | None = None,
        allowed_modules: Iterable[str] = (),
        unsafe: bool = False,
    ) -> Pipeline:
        """Load a pipeline from a YAML file; every mistake is reported at once, located.

        Dotted `type`s may import only `ragrun.components`, `haystack`, `haystack_integrations`,
        the modules of registered components, `allowed_modules` (module prefixes) and those in
        `RAGRUN_ALLOWED_MODULES`; `unsafe=True` allows any module (trust the file completely).
        """
        from .loader import load_file

        return load_file(path, overrides, allowed_modules=allowed_modules, unsafe=unsafe)

    @classmethod
    def loads(
        cls,
        text: str,
        *,
        source: str = "<string>",
        overrides: Mapping[str, Any] | None = None,
        allowed_modules: Iterable[str] = (),
        unsafe: bool = False,
    ) -> Pipeline:
        """Load a pipeline from YAML text; `source` names it in error messages (see `load`)."""
        from .loader import load_text

        return load_text(text, source, overrides, allowed_modules=allowed_modules, unsafe=unsafe)

    def dumps(self) -> str:
        """Minimal YAML for this pipeline (defaults left out); `loads(dumps())` runs the same."""
        from .dump import dumps

        return dumps(self)

    # -- running ----------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Call every component's `warm_up()` once (later calls do nothing).

        Components declared `executor: process` are skipped: each worker process warms its own
        copy, so loading the model here too would only cost time and memory.
        """
        if self._warmed_up:
            return
        self._warm_up_components()
        self._warmed_up = True

    def _warm_up_components(self) -> None:
        for node in self.nodes.values():
            if node.policy.executor == "process":
                continue
            warm = getattr(node.instance, "warm_up", None)
            if callable(warm):
                warm()

    @property
    def warmed_up(self) -> bool:
        """True once `warm_up` has run (a run then skips warming up altogether)."""
        return self._warmed_up

    async def warm_up_async(self) -> None:
        """`warm_up` off the event loop (model loads run in a worker thread), then each
        component's own `warm_up_async`, if it has one, on this loop (a client of this loop).
        """
        if self._warmed_up:
            return
        import inspect

        import anyio.to_thread

        await anyio.to_thread.run_sync(self._warm_up_components)
        for node in self.nodes.values():
            warm = getattr(node.instance, "warm_up_async", None)
            if node.policy.executor != "process" and inspect.iscoroutinefunction(warm):
                await warm()
        self._warmed_up = True  # only now: a failed warm-up is tried again by the next run

    def run(
        self, data: Mapping[str, Any] | None = None, *, include_outputs_from: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Run once and return the outputs (sync twin of `run_async`)."""
        import anyio

        return anyio.run(lambda: self.run_async(data, include_outputs_from=include_outputs_from))

    async def run_async(
        self, data: Mapping[str, Any] | None = None, *, include_outputs_from: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Run once on the current event loop and return the outputs."""
        from .executor import run_once

        return await run_once(self, data or {}, include_outputs_from=include_outputs_from)

    def stream(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        include_outputs_from: Iterable[str] = (),
        verbose: bool = False,
        run_id: str | None = None,
    ) -> AsyncIterator[Event]:
        """Run once, yielding each event (component outputs, chunks, failures) as it happens."""
        from .executor import stream

        return stream(
            self,
            data or {},
            include_outputs_from=include_outputs_from,
            verbose=verbose,
            run_id=run_id,
        )

    def run_batch(self, items: Iterable[Mapping[str, Any]], **options: Any) -> AsyncIterator[Any]:
        """Run once per item, concurrently, yielding one result per item as runs finish."""
        from .batch import run_batch

        return run_batch(self, items, **options)

    def close(self) -> None:
        """Release what runs share (process pools, limiters) and call each component's `close()`.

        The pipeline can run again: components build their clients anew on next use.
        """
        from .closing import close_components
        from .resources import close_resources

        try:
            close_components(self)
        finally:
            close_resources(self)

    async def aclose(self) -> None:
        """Await each component's `aclose()` on this loop, then `close` in a worker thread."""
        import anyio.to_thread

        from .closing import aclose_components

        try:
            await aclose_components(self)
        finally:
            await anyio.to_thread.run_sync(self.close)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        name = self.metadata.get("name", "")
        counts = f"{len(self.nodes)} components, {len(self.connections)} connections"
        return f"<Pipeline {name!r}: {counts}>"


def address(component: str, socket: str) -> str:
    """`component.socket`, the one spelling of a socket address in messages and YAML."""
    return f"{component}.{socket}"


__all__ = ["Node", "Pipeline", "address", "split_address"]
