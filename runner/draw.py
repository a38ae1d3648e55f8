"""Text drawings of a pipeline's graph: Mermaid flowcharts and Graphviz DOT.

Both are plain text made here, with no web service, so `ragrun graph` works offline and its output
can be pasted into Markdown (GitHub renders Mermaid) or piped to `dot -Tsvg`. Every component and
every connection is drawn; connections are labelled with their sockets (`sender → receiver`, or one
name when both sides share it). The run's inputs are drawn as rounded nodes feeding the sockets they
reach, and the run's outputs as rounded nodes fed by their sockets: the declared `inputs:` and
`outputs:` when the YAML has them, otherwise the required sockets nothing feeds and the output
sockets nothing consumes (what a run needs and what it returns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .connections import split_address

if TYPE_CHECKING:
    from .pipeline import Pipeline

FORMATS = ("mermaid", "dot")


@dataclass(frozen=True)
class Box:
    """A node of the drawing: a component, a run input or a run output."""

    id: str
    title: str
    subtitle: str = ""
    kind: str = "component"
    """`component`, `input` or `output`."""


@dataclass(frozen=True)
class Arrow:
    """An edge of the drawing, labelled with the sockets it joins."""

    source: str
    target: str
    label: str


@dataclass(frozen=True)
class Drawing:
    """What both renderers draw, computed once from the pipeline."""

    title: str
    boxes: list[Box]
    arrows: list[Arrow]


def draw(pipeline: Pipeline, fmt: str = "mermaid") -> str:
    """The pipeline's graph as `mermaid` or `dot` text, ending with a newline."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}; expected one of {', '.join(FORMATS)}")
    drawing = layout(pipeline)
    return to_mermaid(drawing) if fmt == "mermaid" else to_dot(drawing)


def layout(pipeline: Pipeline) -> Drawing:
    """Collect the boxes and arrows of a pipeline, in declaration order."""
    ids = _Ids()
    boxes = [
        Box(ids.component(name), name, node.class_name) for name, node in pipeline.nodes.items()
    ]
    arrows = [
        Arrow(
            ids.component(c.sender),
            ids.component(c.receiver),
            _socket_label(c.sender_socket, c.receiver_socket),
        )
        for c in pipeline.connections
    ]
    for name, addresses in _run_inputs(pipeline).items():
        box = Box(ids.new("input", name), name, kind="input")
        boxes.append(box)
        for addr in addresses:
            component, socket = split_address(addr)
            arrows.append(Arrow(box.id, ids.component(component), socket or ""))
    for name, addr in _run_outputs(pipeline).items():
        box = Box(ids.new("output", name), name, kind="output")
        boxes.append(box)
        component, socket = split_address(addr)
        arrows.append(Arrow(ids.component(component), box.id, socket or ""))
    return Drawing(str(pipeline.metadata.get("name") or "pipeline"), boxes, arrows)


def to_mermaid(drawing: Drawing) -> str:
    """A Mermaid `flowchart LR`; node ids are sanitised, names are shown as labels."""
    lines = ["flowchart LR"]
    for box in drawing.boxes:
        if box.kind == "component":
            label = f"<b>{_mermaid_text(box.title)}</b><br/><i>{_mermaid_text(box.subtitle)}</i>"
            lines.append(f'    {box.id}["{label}"]')
        else:
            lines.append(f'    {box.id}(["{_mermaid_text(box.title)}"])')
    for arrow in drawing.arrows:
        link = f'-->|"{_mermaid_text(arrow.label)}"|' if arrow.label else "-->"
        lines.append(f"    {arrow.source} {link} {arrow.target}")
    styles = {"input": "fill:#e8f4ff,stroke:#4a90d9", "output": "fill:#eaf7ea,stroke:#4caf50"}
    for kind, style in styles.items():
        members = [b.id for b in drawing.boxes if b.kind == kind]
        if members:
            lines.append(f"    classDef {kind} {style}")
            lines.append(f"    class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"


def to_dot(drawing: Drawing) -> str:
    """A Graphviz `digraph`, left to right; render with `dot -Tsvg`."""
    lines = [
        f"digraph {_dot_quote(drawing.title)} {{",
        "    rankdir=LR;",
        '    node [shape=box, style="rounded", fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for box in drawing.boxes:
        if box.kind == "component":
            label = f"{box.title}\n{box.subtitle}"
            lines.append(f"    {_dot_quote(box.id)} [label={_dot_quote(label)}];")
        else:
            color = "#4a90d9" if box.kind == "input" else "#4caf50"
            lines.append(
                f"    {_dot_quote(box.id)} [label={_dot_quote(box.title)}, shape=ellipse, "
                f'color="{color}"];'
            )
    for arrow in drawing.arrows:
        attrs = f" [label={_dot_quote(arrow.label)}]" if arrow.label else ""
        lines.append(f"    {_dot_quote(arrow.source)} -> {_dot_quote(arrow.target)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _run_inputs(pipeline: Pipeline) -> dict[str, list[str]]:
    """Declared public inputs, or each required socket nothing feeds, grouped by socket name."""
    if pipeline.inputs:
        return pipeline.inputs
    fed = {(c.receiver, c.receiver_socket) for c in pipeline.connections}
    found: dict[str, list[str]] = {}
    for name, node in pipeline.nodes.items():
        for socket in node.sockets.inputs.values():
            if socket.is_required and (name, socket.name) not in fed:
                found.setdefault(socket.name, []).append(f"{name}.{socket.name}")
    return found


def _run_outputs(pipeline: Pipeline) -> dict[str, str]:
    """Declared public outputs, or each output socket nothing consumes (named `comp.socket`)."""
    if pipeline.outputs:
        return pipeline.outputs
    consumed = {(c.sender, c.sender_socket) for c in pipeline.connections}
    return {
        f"{name}.{socket}": f"{name}.{socket}"
        for name, node in pipeline.nodes.items()
        for socket in node.sockets.outputs
        if (name, socket) not in consumed
    }


def _socket_label(sender_socket: str, receiver_socket: str) -> str:
    if sender_socket == receiver_socket:
        return sender_socket
    return f"{sender_socket} → {receiver_socket}"


class _Ids:
    """Node ids safe in Mermaid (no reserved words such as `end`) and unique after sanitising."""

    def __init__(self) -> None:
        self._components: dict[str, str] = {}
        self._taken: set[str] = set()

    def component(self, name: str) -> str:
        if name not in self._components:
            self._components[name] = self.new("c", name)
        return self._components[name]

    def new(self, prefix: str, name: str) -> str:
        base = f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
        candidate, n = base, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{base}_{n}"
        self._taken.add(candidate)
        return candidate


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label, `"` ends the label and `<`/`>` would read as HTML.
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
