"""`ragrun.draw` (Mermaid and DOT text of a pipeline's graph) and `ragrun graph FILE`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ragrun import Pipeline
from ragrun.draw import draw
from tests.cli.clirun import SAMPLES, ragrun, write
from tests.cli.sample_components import Add, Upper, Words


def chain() -> Pipeline:
    p = Pipeline(metadata={"name": "chain"})
    p.add_component("end", Upper())  # `end` is a Mermaid keyword: ids must not be bare names
    p.add_component("words", Words())
    p.connect("end.text", "words.text")
    return p


def test_mermaid_draws_every_component_connection_input_and_output() -> None:
    assert draw(chain(), "mermaid") == (
        "flowchart LR\n"
        '    c_end["<b>end</b><br/><i>Upper</i>"]\n'
        '    c_words["<b>words</b><br/><i>Words</i>"]\n'
        '    input_text(["text"])\n'
        '    output_words_count(["words.count"])\n'
        '    c_end -->|"text"| c_words\n'
        '    input_text -->|"text"| c_end\n'
        '    c_words -->|"count"| output_words_count\n'
        "    classDef input fill:#e8f4ff,stroke:#4a90d9\n"
        "    class input_text input\n"
        "    classDef output fill:#eaf7ea,stroke:#4caf50\n"
        "    class output_words_count output\n"
    )


def test_dot_draws_the_same_graph() -> None:
    assert draw(chain(), "dot") == (
        'digraph "chain" {\n'
        "    rankdir=LR;\n"
        '    node [shape=box, style="rounded", fontname="Helvetica"];\n'
        '    edge [fontname="Helvetica", fontsize=10];\n'
        '    "c_end" [label="end\\nUpper"];\n'
        '    "c_words" [label="words\\nWords"];\n'
        '    "input_text" [label="text", shape=ellipse, color="#4a90d9"];\n'
        '    "output_words_count" [label="words.count", shape=ellipse, color="#4caf50"];\n'
        '    "c_end" -> "c_words" [label="text"];\n'
        '    "input_text" -> "c_end" [label="text"];\n'
        '    "c_words" -> "output_words_count" [label="count"];\n'
        "}\n"
    )


def test_declared_inputs_and_outputs_are_drawn_by_public_name() -> None:
    p = Pipeline(inputs={"number": ["x.a", "y.a"]}, outputs={"sum": "y.total"})
    p.add_component("x", Add())
    p.add_component("y", Add())
    p.connect("x.total", "y.b")
    text = draw(p, "mermaid")
    assert '    c_x -->|"total → b"| c_y\n' in text
    assert '    input_number -->|"a"| c_x\n' in text
    assert '    input_number -->|"a"| c_y\n' in text
    assert '    c_y -->|"total"| output_sum\n' in text
    assert "x.total" not in text  # consumed, and not a declared output


def test_labels_are_escaped_and_ids_stay_unique() -> None:
    p = Pipeline(metadata={"name": 'say "hi"'})
    p.add_component("a-b", Upper())
    p.add_component("a_b", Upper())
    mermaid, dot = draw(p, "mermaid"), draw(p, "dot")
    assert "c_a_b[" in mermaid and "c_a_b_2[" in mermaid
    assert 'digraph "say \\"hi\\"" {' in dot


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of mermaid, dot"):
        draw(chain(), "svg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_accepts_the_dot_text() -> None:
    done = subprocess.run(
        ["dot", "-Tsvg"], input=draw(chain(), "dot"), capture_output=True, text=True, check=True
    )
    assert "<svg" in done.stdout


def test_graph_command_prints_the_drawing(tmp_path: Path) -> None:
    pipeline = write(
        tmp_path / "p.yaml",
        f"metadata: {{name: chain}}\ncomponents:\n  end: {{type: {SAMPLES}.Upper}}\n"
        f"  words: {{type: {SAMPLES}.Words}}\n"
        "connections:\n  - {sender: end.text, receiver: words.text}\n",
    )
    mermaid = ragrun("graph", pipeline)
    dot = ragrun("graph", pipeline, "--format", "dot")
    assert mermaid.returncode == dot.returncode == 0
    assert mermaid.stdout == draw(chain(), "mermaid")
    assert dot.stdout == draw(chain(), "dot")


def test_graph_of_an_invalid_file_is_located(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "bad.yaml", "components:\n  a: {type: NoSuchThing}\n")
    done = ragrun("graph", pipeline)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{pipeline}:2:")
