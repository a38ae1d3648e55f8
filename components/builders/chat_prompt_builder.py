"""ChatPromptBuilder: chat messages whose texts are Jinja2 templates, rendered in a sandbox."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Literal

import anyio.to_thread

from ragrun import ChatMessage, ChatRole, component

from .message_tags import MessageTags, uses_message_tags
from .templates import (
    Sandbox,
    check_required,
    declare_variable_sockets,
    render_run_time,
    template_variables,
)

logger = logging.getLogger(__name__)

ChatTemplate = list[ChatMessage] | str


@component
class ChatPromptBuilder:
    """Render a chat template into a list of `ChatMessage`; its variables become input sockets.

    Same name, init parameters and sockets as Haystack's ChatPromptBuilder. The template is
    either a list of messages (in YAML `{role: user, content: "..."}`, Haystack's serialized
    `{role, content: [{text: ...}]}` form loads too) whose user and system texts are templates,
    or one string: written with Haystack's `{% message role=... %}` blocks it yields those
    messages, otherwise it is taken as a single user message. A `template` given at run time
    renders in a worker thread with a time limit (see `templates.py`).

    Args:
        template: the messages or the string template; may instead be given at run time.
        required_variables: `"*"` (the default, as in Haystack 3) for all variables, a list for
            some, None for none. The others default to `""`.
        variables: the input variables to offer, instead of those found in the template.

    Example:
        >>> builder = ChatPromptBuilder(template=[{"role": "user", "content": "Hi {{ name }}"}])
        >>> builder.run(name="Ada")["prompt"][0].text
        'Hi Ada'
    """

    ragrun_on_loop = True
    """Runs on the event loop: a call takes microseconds, less than a worker-thread hop."""

    def __init__(
        self,
        template: list[ChatMessage] | str | None = None,
        required_variables: list[str] | Literal["*"] | None = "*",
        variables: list[str] | None = None,
    ) -> None:
        self.template = _as_template(template)
        self.required_variables = required_variables
        self._env = Sandbox(extensions=[MessageTags])
        found = self._variables_of(self.template) if self.template else []
        self.variables = list(variables) if variables else found
        if self.variables and required_variables is None:
            logger.warning(
                "ChatPromptBuilder: required_variables=None makes all of %s optional",
                ", ".join(self.variables),
            )
        declare_variable_sockets(self, self.variables, required_variables)

    def __getstate__(self) -> dict[str, Any]:
        # The environment caches compiled templates, which do not pickle; a worker makes its own.
        state = dict(self.__dict__)
        del state["_env"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._env = Sandbox(extensions=[MessageTags])

    @component.output_types(prompt=list[ChatMessage])
    def run(
        self,
        template: list[ChatMessage] | str | None = None,
        template_variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Render the messages.

        Args:
            template: messages or a string template to use for this run instead of the init one.
            template_variables: values that override the variables fed through sockets.
            **kwargs: the template variables, one per input socket.

        Returns:
            `{"prompt": list[ChatMessage]}`: user and system messages rendered, others as given.

        Raises:
            ValueError: no template at all, or a required variable was not given.
        """
        chosen = self.template if template is None else _as_template(template)
        if not chosen:
            raise ValueError(
                "ChatPromptBuilder has no template: give `template` at init or at run time"
            )
        values = {**kwargs, **(template_variables or {})}
        check_required("ChatPromptBuilder", self.variables, self.required_variables, set(values))
        if template is None:
            return {"prompt": self._render(chosen, values)}
        return {"prompt": render_run_time(lambda: self._render(chosen, values))}

    @component.output_types(prompt=list[ChatMessage])
    async def run_async(
        self,
        template: list[ChatMessage] | str | None = None,
        template_variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """`run`, with a template given at run time rendered in a worker thread."""
        if template is None:
            return self.run(template_variables=template_variables, **kwargs)
        return await anyio.to_thread.run_sync(
            lambda: self.run(template, template_variables, **kwargs), abandon_on_cancel=True
        )

    def _render(self, template: ChatTemplate, values: dict[str, Any]) -> list[ChatMessage]:
        if isinstance(template, str):
            return self._render_string(template, values)
        return [self._render_message(m, values) for m in template]

    def _variables_of(self, template: ChatTemplate) -> list[str]:
        found: set[str] = set()
        texts = (
            [template]
            if isinstance(template, str)
            else [m.text or "" for m in template if _is_templated(m)]
        )
        for text in texts:
            found |= template_variables(self._env, text)
        return sorted(found)

    def _render_message(self, message: ChatMessage, values: dict[str, Any]) -> ChatMessage:
        if not _is_templated(message):
            return message
        if message.text is None:
            raise ValueError(f"ChatPromptBuilder: the {message.role.value} message has no text")
        return replace(message, text=self._env.compiled(message.text).render(values))

    def _render_string(self, template: str, values: dict[str, Any]) -> list[ChatMessage]:
        rendered = self._env.compiled(template).render(values)
        if not uses_message_tags(template):
            return [ChatMessage.from_user(rendered)]
        tags = self._env.extensions[MessageTags.identifier]
        assert isinstance(tags, MessageTags)
        return tags.messages(rendered)


def _is_templated(message: ChatMessage) -> bool:
    # As in Haystack, only what the user and system say is a template; assistant and tool
    # messages (earlier turns of a conversation) pass through untouched.
    return message.role in (ChatRole.USER, ChatRole.SYSTEM)


def _as_template(template: Any) -> ChatTemplate | None:
    if template is None or isinstance(template, str):
        return template
    if not isinstance(template, list):
        raise TypeError(
            "ChatPromptBuilder template must be a list of messages or a string, "
            f"not {type(template).__name__}"
        )
    messages = []
    for item in template:
        if isinstance(item, ChatMessage):
            messages.append(item)
        elif isinstance(item, dict):
            messages.append(ChatMessage.from_dict(item))
        else:
            raise TypeError(
                "ChatPromptBuilder template items must be messages like "
                f"{{role: user, content: '...'}}, not {type(item).__name__}"
            )
    return messages
