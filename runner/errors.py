"""The exceptions ragrun raises, one subclass per phase.

::

    RagrunError                      exit code 1
    ├── ComponentDefinitionError     a class decorated with @component is malformed (exit 2)
    ├── PipelineValidationError      the YAML or the graph is wrong; carries every Problem (exit 2)
    ├── PipelineInputError           a run was given inputs it cannot use (exit 2)
    └── PipelineRuntimeError         a component failed during a run; names the component and run
        ├── PipelineStuckError       no component can run but some still wait; names each wait
        ├── ComponentTimeoutError    one attempt overran its `timeout` (timeouts.py; a TimeoutError)
        └── CircuitOpenError         the component's circuit breaker is open (breaker.py)

The exit code is a class attribute so the CLI maps an exception to its code in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .diagnostics import Problem


class RagrunError(Exception):
    """Root of every error ragrun raises on purpose."""

    exit_code: int = 1


class ComponentDefinitionError(RagrunError, TypeError):
    """A component class breaks the protocol (bad sockets, `run_async` not matching `run`)."""

    exit_code = 2


class PipelineValidationError(RagrunError):
    """The pipeline definition is invalid; `problems` lists every mistake, sorted by position."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem]):
        self.problems = sorted(problems, key=lambda p: p.sort_key())
        super().__init__("\n".join(p.render() for p in self.problems))


class PipelineInputError(RagrunError, ValueError):
    """The data given to a run does not fit the pipeline's inputs."""

    exit_code = 2


class PipelineRuntimeError(RagrunError):
    """A component failed during a run, after its retries (if any) were spent."""

    def __init__(self, message: str, *, component: str | None = None, run_id: str | None = None):
        self.component = component
        self.run_id = run_id
        super().__init__(message)


class PipelineStuckError(PipelineRuntimeError):
    """The scheduler found nothing runnable while components still wait for inputs."""
