"""PromptBuilder: a Jinja2 template rendered, in a sandbox, into one prompt string."""

from __future__ import annotations

import logging
from typing import Any, Literal

import anyio.to_thread

from ragrun import component

from .templates import (
    Sandbox,
    check_required,
    declare_variable_sockets,
    render_run_time,
    template_variables,
)

logger = logging.getLogger(__name__)


@component
class PromptBuilder:
    """Render a Jinja2 template into a prompt; each template variable becomes an input socket.

    Same name, init parameters and sockets as Haystack's PromptBuilder. The template renders in
    ragrun's sandbox (see `templates.py`), so a template from an untrusted YAML file cannot reach
    Python internals nor build anything huge. A `template` given at run time renders in a
    worker thread with a time limit (`RUN_TIME_TEMPLATE_LIMIT`); the init template, compiled
    once, renders on the event loop.

    Args:
        template: the Jinja2 template, e.g. `"Answer {{ question }} from {{ documents }}"`.
        required_variables: variables that must be given: `"*"` (the default, as in Haystack 3)
            for all of them, a list for some, None for none. The others default to `""`.
        variables: the input variables to offer, instead of those found in the template (useful
            when `template` is replaced at run time by one using other variables).

    Example:
        >>> builder = PromptBuilder(template="Hello {{ name }}!")
        >>> builder.run(name="Ada")
        {'prompt': 'Hello Ada!'}
    """

    ragrun_on_loop = True
    """Runs on the event loop: a call takes microseconds, less than a worker-thread hop."""

    def __init__(
        self,
        template: str,
        required_variables: list[str] | Literal["*"] | None = "*",
        variables: list[str] | None = None,
    ) -> None:
        self.template = template
        self.required_variables = required_variables
        self._env = Sandbox()
        self._compiled = self._env.from_string(template)
        self.variables = (
            list(variables) if variables else sorted(template_variables(self._env, template))
        )
        if self.variables and required_variables is None:
            logger.warning(
                "PromptBuilder: required_variables=None makes all of %s optional; a branch that "
                "is not taken will then render them empty instead of holding the builder back",
                ", ".join(self.variables),
            )
        declare_variable_sockets(self, self.variables, required_variables)

    def __getstate__(self) -> dict[str, Any]:
        # Compiled templates do not pickle; a process-pool worker compiles its own.
        state = dict(self.__dict__)
        del state["_env"], state["_compiled"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._env = Sandbox()
        self._compiled = self._env.from_string(self.template)

    @component.output_types(prompt=str)
    def run(
        self,
        template: str | None = None,
        template_variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Render the prompt.

        Args:
            template: a template to use for this run instead of the one given at init.
            template_variables: values that override the variables fed through sockets.
            **kwargs: the template variables, one per input socket.

        Returns:
            `{"prompt": str}`.

        Raises:
            ValueError: a required variable was not given.
        """
        values = {**kwargs, **(template_variables or {})}
        check_required("PromptBuilder", self.variables, self.required_variables, set(values))
        if template is None:
            return {"prompt": self._compiled.render(values)}
        return {"prompt": render_run_time(lambda: self._env.compiled(template).render(values))}

    @component.output_types(prompt=str)
    async def run_async(
        self,
        template: str | None = None,
        template_variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """`run`, with a template given at run time rendered in a worker thread."""
        if template is None:
            return self.run(template_variables=template_variables, **kwargs)
        return await anyio.to_thread.run_sync(
            lambda: self.run(template, template_variables, **kwargs), abandon_on_cancel=True
        )
