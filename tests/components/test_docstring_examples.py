"""The examples in the docstrings of the text, prompt, joining and routing components run."""

from __future__ import annotations

import doctest
import importlib

import pytest

from ragrun import Document

MODULES = [
    "ragrun.components.builders.prompt_builder",
    "ragrun.components.builders.chat_prompt_builder",
    "ragrun.components.builders.answer_builder",
    "ragrun.components.preprocessors.document_splitter",
    "ragrun.components.preprocessors.document_cleaner",
    "ragrun.components.joiners.branch",
    "ragrun.components.routers.conditional_router",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"Document": Document}, verbose=False)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
