"""Poison lines: whatever one input line holds, it fails only its own run; the batch goes on.

Each case is run through the real CLI in a child process, as a CI job would run it; every line
the job writes must be strict UTF-8 JSON, so a consumer can always read the results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli.clirun import ragrun, write

WORDS = """
components:
  prompt:
    type: PromptBuilder
    init_parameters: {template: "Say {{ word }}"}
"""
MANGLER = "components:\n  mangle: {type: tests.cli.batch_components.Mangler}\n"
COUNT = 100
POISON = 50


def strict_events(data: bytes) -> list[dict[str, Any]]:
    """Every line as JSON (integers exact), each line also read by orjson, which refuses
    invalid UTF-8 and lone surrogate escapes: what a strict consumer would choke on."""
    found = []
    for line in data.splitlines():
        orjson.loads(line)
        found.append(json.loads(line.decode("utf-8")))
    return found


def endings(found: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    ends = [e for e in found if e["event"] in ("run_finished", "run_failed")]
    assert len(ends) == len({e["line"] for e in ends}), "a line ended twice"
    return {e["line"]: e for e in ends}


@pytest.fixture
def surrogate_inputs(tmp_path: Path) -> Path:
    lines = [json.dumps({"word": f"w{n}"}) for n in range(1, COUNT + 1)]
    lines[POISON - 1] = '{"word": "\\ud800"}'  # a JSON lone surrogate escape, as in the issue
    return write(tmp_path / "in.jsonl", "\n".join(lines) + "\n")


def test_a_lone_surrogate_fails_its_line_only_and_the_summary_says_so(
    tmp_path: Path, surrogate_inputs: Path
) -> None:
    pipeline = write(tmp_path / "words.yaml", WORDS)
    done = ragrun(pipeline, "--inputs", surrogate_inputs, binary=True)
    assert done.returncode == 1, done.stderr
    ends = endings(strict_events(done.stdout))
    assert sorted(ends) == list(range(1, COUNT + 1))
    failed = [n for n, e in ends.items() if e["event"] == "run_failed"]
    assert failed == [POISON]
    message = ends[POISON]["error"]["message"]
    assert message.startswith(f"line {POISON}: the string at 'word' holds a lone surrogate")
    assert ends[POISON + 1]["outputs"] == {"prompt": {"prompt": f"Say w{POISON + 1}"}}
    stderr = done.stderr.decode()
    assert f"{COUNT} runs from" in stderr and f"99 ok, 1 failed (line {POISON})" in stderr
    assert "internal error" not in stderr


def test_resume_goes_past_the_poison_line(tmp_path: Path, surrogate_inputs: Path) -> None:
    pipeline = write(tmp_path / "words.yaml", WORDS)
    out = tmp_path / "out.jsonl"
    first = ragrun(pipeline, "--inputs", surrogate_inputs, "--output", out)
    second = ragrun(pipeline, "--inputs", surrogate_inputs, "--output", out, "--resume")
    assert first.returncode == second.returncode == 1, second.stderr
    assert "1 ok" not in second.stderr and f"0 ok, 1 failed (line {POISON})" in second.stderr
    assert "99 skipped (finished in" in second.stderr
    found = strict_events(out.read_bytes())
    finished = [e["line"] for e in found if e["event"] == "run_finished"]
    assert sorted(finished) == [n for n in range(1, COUNT + 1) if n != POISON]
    assert [e["line"] for e in found if e["event"] == "run_failed"] == [POISON, POISON]


def nested(depth: int) -> bytes:
    return b'{"word": ' + b"[" * depth + b"]" * depth + b"}"


# (line bytes, how its run ends: "ok" or a fragment of its error message)
CASES: list[tuple[str, bytes, str]] = [
    ("plain", b'{"word": "fine"}', "ok"),
    ("lone-surrogate", b'{"word": "\\udfff"}', "holds a lone surrogate"),
    ("surrogate-key", b'{"\\ud800": 1}', "in a key holds a lone surrogate"),
    ("invalid-utf8", b'{"word": "caf\xe9"}', "is not valid UTF-8: byte 0xe9"),
    ("utf8-encoded-surrogate", b'{"word": "\xed\xa0\x80"}', "is not valid UTF-8: byte 0xed"),
    ("byte-order-mark", b'\xef\xbb\xbf{"word": "bom"}', "ok"),
    ("huge-integer", b'{"word": ' + b"7" * 5000 + b"}", "more than 4300 digits"),
    ("long-integer-exact", b'{"word": 123456789012345678901234567890}', "ok"),
    ("float-overflow", b'{"word": 1e400}', "ok"),
    ("nan", b'{"word": NaN}', "ok"),
    ("nested-150", nested(150), "nested more than 100 levels"),
    ("nested-5000", nested(5000), "nested more than 100 levels"),
    ("nested-200000", nested(200_000), "nested more than 100 levels"),
    ("array", b"[1, 2]", "expected a JSON object, found list"),
    ("string", b'"word"', "expected a JSON object, found str"),
    ("null", b"null", "expected a JSON object, found NoneType"),
    ("not-json", b"{word: 1}", "is not valid JSON"),
    ("nul-byte", b'{"word": "a\x00b"}', "is not valid JSON"),
    ("huge-line", b'{"word": "' + b"x" * (33 * 2**20) + b'"}', "MiB long; one run's JSON"),
    ("component-error-with-surrogate", b'{"word": "raise"}', "cannot take \ufffd here"),
    ("component-output-with-surrogate", b'{"word": "emit"}', "ok"),
    ("unknown-input", b'{"wrod": 1}', "unknown input 'wrod'"),
]


def test_every_poison_line_fails_alone_and_every_written_line_is_valid(tmp_path: Path) -> None:
    pipeline = write(tmp_path / "mangle.yaml", MANGLER)
    inputs = tmp_path / "in.jsonl"
    inputs.write_bytes(b"\n".join(line for _, line, _ in CASES) + b"\n")
    done = ragrun(pipeline, "--inputs", inputs, "--concurrency", "4", binary=True)
    assert done.returncode == 1, done.stderr
    ends = endings(strict_events(done.stdout))
    assert sorted(ends) == list(range(1, len(CASES) + 1))
    for number, (name, _, expected) in enumerate(CASES, start=1):
        end = ends[number]
        if expected == "ok":
            assert end["event"] == "run_finished", (name, end)
        else:
            assert end["event"] == "run_failed", (name, end)
            assert expected in end["error"]["message"], (name, end["error"])
    assert ends[8]["outputs"]["mangle"]["text"] == "123456789012345678901234567890"
    emitted = ends[len(CASES) - 1]["outputs"]["mangle"]
    assert emitted == {"text": "half \ufffd a pair", "count": 2**70}  # exact, as a JSON number
    failed = sum(1 for _, _, expected in CASES if expected != "ok")
    stderr = done.stderr.decode()
    assert f"{len(CASES) - failed} ok, {failed} failed" in stderr
    assert "internal error" not in stderr
