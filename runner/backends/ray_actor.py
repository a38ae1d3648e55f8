"""`PipelineActor`: one Ray actor of a job's pool, holding one loaded, warmed pipeline.

Ray Data builds each actor once (`map_batches` with an actor pool) and then calls it with batch
after batch of input lines. Loading the YAML and warming the pipeline (the embedding model) in
`__init__` means that cost is paid once per actor, not once per batch. The actor keeps one
event loop for its whole life (an anyio blocking portal), so what the pipeline's runs share
across batches — rate limiters, circuit breakers, micro-batchers — lives on one loop.

This module imports neither Ray nor anything heavy: Ray imports it in each worker by name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .line_batch import InputLine, LineOptions, rows_of, run_lines


@dataclass(frozen=True)
class PipelineSpec:
    """What every actor of a job needs to build the same pipeline, shipped by value.

    The YAML travels as text rather than as a path, so workers on other machines need not
    see the driver's files; `${VAR}`s are filled from each worker's environment.
    """

    yaml: str
    """The pipeline file's text."""
    source: str
    """The file's name, for messages."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """`--set COMPONENT.PARAM=VALUE` overrides, as given to the loader."""
    options: LineOptions = field(default_factory=LineOptions)
    """How each line runs."""
    allowed_modules: tuple[str, ...] = ()
    """Modules the driver allowed the YAML's dotted types to import (`--allow-module`)."""
    unsafe: bool = False
    """The driver allowed any module (`--unsafe`)."""


class PipelineActor:
    """Loads and warms the pipeline once, then runs each batch of lines on the local runner.

    Args:
        spec: the pipeline and how to run it.
    """

    def __init__(self, spec: PipelineSpec) -> None:
        from anyio.from_thread import start_blocking_portal

        from ..executor import warm_up
        from ..pipeline import Pipeline
        from ..redaction import install_log_filter

        # The actor resolves its own secrets; its events are encoded (and redacted) here, and
        # its log lines, which Ray forwards to the driver's terminal, are redacted too.
        install_log_filter()

        # JSON lines travel back as data; a component printing to stdout must not interleave
        # with them in the driver's stdout (Ray forwards worker output to the driver).
        sys.stdout = sys.stderr
        self._options = spec.options
        self._portal_context = start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        self._pipeline = Pipeline.loads(
            spec.yaml,
            source=spec.source,
            overrides=spec.overrides,
            allowed_modules=spec.allowed_modules,
            unsafe=spec.unsafe,
        )
        self._portal.call(warm_up, self._pipeline)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        """Run every line of `batch` (columns `index`, `line`, `text`); one row out per line."""
        lines = [
            InputLine(int(index), int(line), str(text))
            for index, line, text in zip(batch["index"], batch["line"], batch["text"], strict=True)
        ]
        results = self._portal.call(partial(run_lines, self._pipeline, lines, self._options))
        return rows_of(results)

    def __del__(self) -> None:
        """Stop what the pipeline holds (worker process pools), then the actor's event loop."""
        pipeline = getattr(self, "_pipeline", None)
        if pipeline is not None:
            pipeline.close()
        portal_context = self.__dict__.pop("_portal_context", None)
        if portal_context is not None:
            portal_context.__exit__(None, None, None)
