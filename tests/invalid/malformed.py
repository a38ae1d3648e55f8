"""A generated corpus of malformed pipeline files: every one must fail with exit 2, located.

The hand-written corpus beside this file pins exact messages; this one is about breadth: each
family below turns a valid pipeline into many files that are wrong in one way (an alias bomb
of every width, a control character at every kind of position, every YAML tag, every
encoding mistake...). Nothing is kept in git but this script; it is deterministic (seeded), so
a failure names a file that can be written again:

    python -m tests.invalid.malformed OUTDIR     # writes the files, prints how many

`test_malformed_corpus.py` loads every file through the loader and a sample of each family
through `ragrun validate`.
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

VALID = """\
metadata: {name: corpus}
inputs:
  question: prompt.question
components:
  prompt:
    type: PromptBuilder
    init_parameters:
      template: "Answer {{ question }} from {{ documents }}"
  splitter:
    type: DocumentSplitter
    init_parameters: {split_by: word, split_length: 20}
max_runs_per_component: 5
"""
"""A valid pipeline: the base most families break."""


def billion_laughs_text() -> str:
    """The classic bomb of issue 9: nine anchors, each a list of nine aliases of the one before
    (10^9 'lol's once expanded, in about 400 bytes)."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def alias_chain_text(length: int = 3000) -> str:
    """Each anchor a list holding an alias of the one before: expanded, `length` levels deep."""
    lines = ["x-chain:", "  a0: &a0 [x]"]
    lines += [f"  a{i}: &a{i} [*a{i - 1}]" for i in range(1, length)]
    return "\n".join(lines) + "\ncomponents: {}\n"


def deep_text(depth: int = 1000) -> str:
    """Flow lists nested `depth` deep, on one line."""
    return "components: " + "[" * depth + "]" * depth + "\n"


@dataclass(frozen=True)
class Malformed:
    """One generated file: a name that says what is wrong with it, and its bytes."""

    family: str
    name: str
    data: bytes

    @property
    def filename(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.name)
        return f"{self.family}--{safe}.yaml"


Family = Callable[[random.Random], Iterator[tuple[str, str | bytes]]]
FAMILIES: dict[str, Family] = {}


def family(func: Family) -> Family:
    FAMILIES[func.__name__.replace("_", "-")] = func
    return func


def corpus(seed: int = 9) -> list[Malformed]:
    """Every generated file, in a stable order."""
    out = []
    for name, make in FAMILIES.items():
        rng = random.Random(f"{seed}-{name}")
        for case, content in make(rng):
            data = content.encode("utf-8") if isinstance(content, str) else content
            out.append(Malformed(name, case, data))
    return out


def _under(placement: str, value: str) -> str:
    """`value` (one line of flow YAML) placed where a pipeline would read it."""
    if placement == "metadata":
        return f"metadata: {{x: {value}}}\ncomponents: {{}}\n"
    if placement == "init-parameter":
        return (
            "components:\n  prompt:\n    type: PromptBuilder\n    init_parameters:\n"
            f"      template: hi\n      variables: {value}\n"
        )
    if placement == "top-level":
        return f"components: {{}}\nconnections: {value}\n"
    return f"components:\n  c: {value}\n"


PLACEMENTS = ("metadata", "init-parameter", "top-level", "component")


@family
def alias_bomb(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Billion laughs: `levels` anchors, each a list of `width` aliases of the one before."""
    for width in range(3, 11):
        for levels in range(4, 13):
            if width**levels <= 20_000:
                continue  # small enough to be a (silly) valid file
            lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
            lines += [
                f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)
            ]
            body = "\n".join(f"  {line}" for line in lines)
            where = rng.choice(("metadata", "x-"))
            head = "metadata:\n" if where == "metadata" else "x-bomb:\n"
            yield f"w{width}-l{levels}-{where}", f"{head}{body}\ncomponents: {{}}\n"


@family
def alias_chain(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Each anchor a list holding an alias of the one before: depth grows with the chain."""
    for length in (101, 150, 500, 1000, 3000):
        for kind in ("list", "mapping"):
            lines = ["  a0: &a0 [x]"]
            for i in range(1, length):
                item = f"[*a{i - 1}]" if kind == "list" else f"{{k: *a{i - 1}}}"
                lines.append(f"  a{i}: &a{i} {item}")
            yield f"{kind}-{length}", "x-chain:\n" + "\n".join(lines) + "\ncomponents: {}\n"


@family
def alias_cycle(rng: random.Random) -> Iterator[tuple[str, str]]:
    """An alias inside the collection it names."""
    shapes = [
        "&a [*a]",
        "&a {k: *a}",
        "&a [1, [2, *a]]",
        "&a {k: {j: [*a]}}",
        "&a\n  - *a",
        "&a\n  k: *a",
    ]
    for index, shape in enumerate(shapes):
        for placement in ("x-", "metadata"):
            key = "x-cycle" if placement == "x-" else "metadata"
            yield f"{index}-{placement}", f"{key}: {shape}\ncomponents: {{}}\n"


@family
def undefined_alias(rng: random.Random) -> Iterator[tuple[str, str]]:
    for placement in PLACEMENTS:
        yield placement, _under(placement, "*nowhere")


@family
def deep_nesting(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Nesting past the limit, in every style YAML has."""
    for depth in (101, 200, 1000, 5000):
        yield f"flow-list-{depth}", "components: " + "[" * depth + "]" * depth + "\n"
        yield f"flow-map-{depth}", "components: " + "{a: " * depth + "1" + "}" * depth + "\n"
        yield f"flow-unclosed-{depth}", "components: " + "[" * depth + "\n"
        if depth <= 500:
            block = "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + f"{'  ' * depth}v\n"
            yield f"block-map-{depth}", "metadata:\n" + "".join("  " + ln for ln in [block])
            seq = "".join(f"{'  ' * i}-\n" for i in range(depth)) + f"{'  ' * depth}v\n"
            yield f"block-seq-{depth}", "x-deep:\n" + seq + "components: {}\n"
        mixed = "".join(rng.choice(("[", "{k: ")) for _ in range(depth))
        yield f"mixed-{depth}", "metadata: " + mixed + "\n"


TAGS = [
    "!!python/object/apply:os.system",
    "!!python/object/new:subprocess.Popen",
    "!!python/object:os.system",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/none",
    "!!binary",
    "!!omap",
    "!!set",
    "!!pairs",
    "!!timestamp",
    "!!merge",
    "!custom",
    "!<tag:example.com,2000:app/foo>",
    "!e!thing",
]


@family
def tag(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Tags on scalars, lists and mappings, in every place a pipeline reads."""
    values = ("[ls, -l]", "{a: 1}", "'abc'", "2001-12-14", "!!!")
    for index, name in enumerate(TAGS):
        for placement in PLACEMENTS:
            value = rng.choice(values)
            yield f"{index}-{placement}", _under(placement, f"{name} {value}")
    for index, (name, value) in enumerate(
        [
            ("!!float", "abc"),
            ("!!int", "x"),
            ("!!int", "1.5"),
            ("!!bool", "maybe"),
            ("!!null", "nothing"),
            ("!!float", "1e"),
            ("!!int", "0xZZ"),
        ]
    ):
        for placement in PLACEMENTS:
            yield f"core-{index}-{placement}", _under(placement, f"{name} {value}")
    yield "top-level", "!!python/object/apply:os.system [ls]\n"
    yield "document", "--- !!omap\n- components: {}\n"


@family
def tag_directive(rng: random.Random) -> Iterator[tuple[str, str]]:
    yield "used", "%TAG !e! tag:example.com,2000:\n---\ncomponents: !e!x {}\n"
    yield "unused", "%TAG !e! tag:example.com,2000:\n---\ncomponents: {}\n"
    yield "primary", "%TAG ! tag:example.com,2000:\n---\ncomponents: !x {}\n"
    yield (
        "python",
        "%TAG !p! tag:yaml.org,2002:python/\n---\ncomponents: !p!object/apply:os.system [ls]\n",
    )


@family
def complex_key(rng: random.Random) -> Iterator[tuple[str, str]]:
    keys = ["? [components]\n: {}\n", "? {a: 1}\n: 2\ncomponents: {}\n"]
    keys += ["[a, b]: 1\ncomponents: {}\n", "{a: 1}: 2\ncomponents: {}\n"]
    keys += ["components:\n  ? [x]\n  : {type: PromptBuilder}\n"]
    keys += ["metadata:\n  ? - a\n    - b\n  : 1\ncomponents: {}\n"]
    keys += ["x-k: &k [1]\nmetadata: {*k : 1}\ncomponents: {}\n"]
    for index, text in enumerate(keys):
        yield str(index), text


@family
def big_integer(rng: random.Random) -> Iterator[tuple[str, str]]:
    for digits in (4301, 5000, 20000):
        number = str(rng.randint(1, 9)) + "".join(
            rng.choice("0123456789") for _ in range(digits - 1)
        )
        yield f"max-runs-{digits}", f"max_runs_per_component: {number}\ncomponents: {{}}\n"
        for placement in PLACEMENTS:
            yield f"{placement}-{digits}", _under(placement, number)
        yield f"negative-{digits}", _under("metadata", "-" + number)
        yield f"underscored-{digits}", _under("metadata", "1_" + number)


_CONTROL = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
_CONTROL += ["\x7f"] + [chr(c) for c in range(0x80, 0xA0) if c != 0x85] + ["\ufffe", "\uffff"]


@family
def control_character(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Each character YAML forbids, at a random place in a valid file (and at its start)."""
    for char in _CONTROL:
        at = rng.randrange(len(VALID))
        yield f"u{ord(char):04x}-random", VALID[:at] + char + VALID[at:]
        quoted = VALID.replace("Answer", "Ans" + char + "wer")
        yield f"u{ord(char):04x}-in-quotes", quoted
    yield "nul-start", "\0" + VALID
    yield "nul-end", VALID + "\0"


@family
def encoding(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Files that are not UTF-8, or not entirely."""
    text = VALID.replace("corpus", "café")
    yield "utf-16-le-bom", b"\xff\xfe" + text.encode("utf-16-le")
    yield "utf-16-be-bom", b"\xfe\xff" + text.encode("utf-16-be")
    yield "utf-16-python", text.encode("utf-16")
    yield "utf-16-le-no-bom", text.encode("utf-16-le")
    yield "utf-16-be-no-bom", text.encode("utf-16-be")
    yield "utf-32", text.encode("utf-32")
    yield "latin-1", text.encode("latin-1")
    yield "cp1252-quotes", VALID.replace('"Answer', "\u201cAnswer").encode("cp1252")
    data = VALID.encode()
    for index in range(12):
        at = rng.randrange(len(data))
        bad = rng.choice([b"\xff", b"\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"])
        yield f"invalid-utf8-{index}", data[:at] + bad + data[at:]
    yield "truncated-multibyte-at-end", data + "é".encode()[:1]


@family
def oversized(rng: random.Random) -> Iterator[tuple[str, str]]:
    yield "comment", VALID + "#" + "x" * 600_000 + "\n"
    yield "string", VALID + "x-big: " + "y" * 600_000 + "\n"
    yield "many-values", "x-many: [" + ",".join("1" for _ in range(10_001)) + "]\ncomponents: {}\n"
    yield (
        "many-keys",
        "metadata:\n" + "".join(f"  k{i}: {i}\n" for i in range(6000)) + "components: {}\n",
    )


@family
def boolean_for_number(rng: random.Random) -> Iterator[tuple[str, str]]:
    settings = ["max_runs_per_component", "max_concurrency"]
    for key in settings:
        for value in ("true", "false", "True", "FALSE"):
            yield f"{key}-{value}", f"{key}: {value}\ncomponents: {{}}\n"
    for key, value in [
        ("timeout", "true"),
        ("concurrency", "true"),
        ("retry", "{attempts: true}"),
        ("retry", "{initial_delay: false}"),
        ("circuit_breaker", "{failures: true}"),
        ("batch", "{max_batch_size: true}"),
        ("processes", "true"),
    ]:
        yield (
            f"{key}-{value}",
            (
                "components:\n  p:\n    type: PromptBuilder\n"
                "    init_parameters: {template: hi}\n"
                f"    {key}: {value}\n"
            ),
        )
    yield "ray-actors", "ray: {actors: true}\ncomponents: {}\n"
    yield (
        "init-parameter",
        (
            "components:\n  s:\n    type: DocumentSplitter\n"
            "    init_parameters: {split_length: true}\n"
        ),
    )


@family
def syntax(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Mistakes of YAML itself, each made at several places of the valid file."""
    lines = VALID.splitlines(keepends=True)
    for index in range(1, len(lines)):
        before, after = "".join(lines[:index]), "".join(lines[index:])
        yield f"tab-indent-{index}", before + "\tkey: value\n" + after
        yield f"unclosed-flow-{index}", before + "x: [a, b\n" + after
        yield f"unclosed-quote-{index}", before + 'x: "abc\n' + after
        yield f"bad-indent-{index}", before + "   - item\n  key: v\n" + after
        yield f"duplicate-key-{index}", before + "metadata: {}\n" + after
    yield "two-documents", VALID + "---\n" + VALID
    yield "colon-in-value", "components: a: b\n"
    yield "sequence-in-mapping", "components:\n  a: 1\n- b\n"
    yield "unclosed-map-at-eof", "components: {a: 1"
    yield "bad-escape", 'metadata: {name: "\\q"}\ncomponents: {}\n'
    yield "anchor-only", "components: &\n"
    yield "alias-with-value", "x-a: &a 1\ncomponents: *a b\n"
    yield "stray-directive", "%YAML 1.2\n%YAML 1.2\n---\ncomponents: {}\n"
    yield "document-end-garbage", "components: {}\n... garbage\n"


@family
def merge_key(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Merge keys used wrongly: of a scalar, of a list of scalars, of an undefined alias."""
    for index, value in enumerate(["5", "[1, 2]", "*nowhere", "'text'", "[*s]"]):
        yield (
            str(index),
            (
                "x-s: &s just text\ncomponents:\n  p:\n    type: PromptBuilder\n"
                f"    init_parameters:\n      <<: {value}\n      template: hi\n"
            ),
        )
    yield (
        "unknown-merged-parameter",
        (
            "x-d: &d {nope: 1}\ncomponents:\n  p:\n    type: PromptBuilder\n"
            "    init_parameters:\n      <<: *d\n      template: hi\n"
        ),
    )


@family
def bad_value(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Scalars YAML reads as something that cannot be built, and pipelines of the wrong shape."""
    for date in ("2024-13-45", "2024-02-30", "2001-12-14t21:59:43.10-25:00"):
        for placement in PLACEMENTS:
            yield f"date-{date}-{placement}", _under(placement, date)
    shapes = {
        "list": "- components\n",
        "scalar": "just text\n",
        "empty": "",
        "null": "~\n",
        "components-list": "components: [a, b]\n",
        "connections-map": "components: {}\nconnections: {a: b}\n",
        "component-scalar": "components: {a: 5}\n",
        "number-key": "1: 2\ncomponents: {}\n",
        "null-key": "~: 2\ncomponents: {}\n",
        "type-list": "components:\n  a: {type: [PromptBuilder]}\n",
        "init-parameters-list": "components:\n  a: {type: PromptBuilder, init_parameters: [1]}\n",
    }
    yield from shapes.items()


@family
def secret(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Secret mappings written wrongly (the messages must not show their values)."""
    values = [
        '{type: env_var, env_vars: ["${HOME}"]}',
        "{type: env_var, env_vars: [sk-pasted-value]}",
        "{type: env_var, env_vars: [OPENAI_API_KEY], value: sk-x}",
        "{type: env_var, env_vars: []}",
        "{type: env_var, env_vars: {a: 1}}",
        "{type: env_var, env_vars: [OPENAI_API_KEY], strict: maybe}",
        "{type: env_var, env_vars: [1]}",
        '"${HOME}"',
        "sk-inline-key",
        "{type: token, token: sk-x}",
    ]
    for index, value in enumerate(values):
        yield (
            str(index),
            (
                "components:\n  llm:\n    type: OpenAIChatGenerator\n"
                f"    init_parameters:\n      api_key: {value}\n"
            ),
        )


@family
def interpolation(rng: random.Random) -> Iterator[tuple[str, str]]:
    for index, value in enumerate(
        ["${", "${}", "${1X}", "${A B}", "${RAGRUN_CORPUS_UNSET}", "${X:-", "x ${Y"]
    ):
        for placement in ("metadata", "init-parameter"):
            yield f"{index}-{placement}", _under(placement, f"'{value}'")


@family
def untrusted_type(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Dotted types outside the allowlist, at the top and nested, under known and unknown names."""
    types_ = ["subprocess.Popen", "os.system", "this.Nope", "builtins.eval", "pickle.loads"]
    types_ += [
        "ragrun.cli.main",
        "ragrun.registry.resolve",
        "ctypes.CDLL",
        "importlib.import_module",
    ]
    for index, name in enumerate(types_):
        yield f"top-{index}", f"components:\n  c:\n    type: {name}\n"
        nested = f"{{type: {name}, init_parameters: {{args: [touch, pwned]}}}}"
        yield (
            f"unknown-parameter-{index}",
            (
                "components:\n  p:\n    type: PromptBuilder\n    init_parameters:\n"
                f"      template: hi\n      nope: {nested}\n"
            ),
        )
        yield (
            f"known-parameter-{index}",
            (
                "components:\n  r:\n    type: InMemoryBM25Retriever\n    init_parameters:\n"
                f"      document_store: {nested}\n"
            ),
        )


def write(folder: Path) -> list[Path]:
    """Write the corpus into `folder`; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for item in corpus():
        path = folder / item.filename
        path.write_bytes(item.data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    written = write(Path(sys.argv[1] if len(sys.argv) > 1 else "malformed-corpus"))
    print(f"{len(written)} files in {len(FAMILIES)} families")
