"""How fast the loader refuses YAML bombs, and what the limits cost a normal pipeline.

Run from the repository root: `python benchmarks/loader_bombs.py`. For each file: the size,
the best of five wall times of `load_text`, the peak memory Python allocated while loading
(tracemalloc), and the first line of the error (each must be a located refusal). Issue 9
measured the 475-byte billion-laughs file past 800 MB and climbing, and a 3000-alias chain at
31 s and 1.5 GB before a RecursionError, on the loader before the limits.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.invalid.malformed

from ragrun.errors import PipelineValidationError  # noqa: E402
from ragrun.loader import load_text  # noqa: E402
from tests.invalid.malformed import alias_chain_text, billion_laughs_text, deep_text  # noqa: E402


def many_values(count: int = 20_000) -> str:
    return "metadata: {x: [" + ",".join("1" for _ in range(count)) + "]}\ncomponents: {}\n"


def measure(name: str, text: str) -> None:
    best = float("inf")
    outcome = ""
    for _ in range(5):
        started = time.perf_counter()
        try:
            load_text(text, "bomb.yaml")
            outcome = "loaded"
        except PipelineValidationError as exc:
            outcome = str(exc).splitlines()[0]
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    try:
        load_text(text, "bomb.yaml")
    except PipelineValidationError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = len(text.encode())
    print(
        f"| {name} | {size:,} B | {best * 1000:.1f} ms | {peak / 2**20:.1f} MiB | {outcome[:90]} |"
    )


def main() -> None:
    print("| file | size | refused in (best of 5) | peak memory | message |")
    print("|---|---|---|---|---|")
    measure("billion laughs (9 levels of 9 aliases)", billion_laughs_text())
    measure("alias chain, 3000 aliases", alias_chain_text())
    measure("nesting 1000 deep", deep_text())
    measure("20,000 values in one list", many_values())
    rag = (ROOT / "pipelines" / "rag.yaml").read_text()
    measure("pipelines/rag.yaml (valid: loads)", rag)


if __name__ == "__main__":
    main()
