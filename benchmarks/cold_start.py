"""Cold start: `ragrun validate` on a real pipeline vs merely importing Haystack.

Run: `python benchmarks/cold_start.py [PIPELINE.yaml]` (default pipelines/rag.yaml).
Each figure is the median of fresh processes, so imports are paid every time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from timing import cold_command, python

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    pipeline = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "pipelines" / "rag.yaml")
    figures = {
        "python -c pass (interpreter floor)": cold_command([python(), "-c", "pass"]),
        f"ragrun validate {Path(pipeline).name}": cold_command(
            [python(), "-m", "ragrun", "validate", pipeline]
        ),
        "python -c 'import haystack'": cold_command([python(), "-c", "import haystack"]),
        "python -c 'from haystack import Pipeline'": cold_command(
            [python(), "-c", "from haystack import Pipeline"]
        ),
    }
    print("| command | median wall time |\n|---|---|")
    for name, seconds in figures.items():
        print(f"| `{name}` | {seconds * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
