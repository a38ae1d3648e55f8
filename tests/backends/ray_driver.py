"""A driver process for the Ray backend tests: `python -m tests.backends.ray_driver FILE INPUTS`.

It writes each event as one JSON line to stdout, as the CLI does in batch mode, with stdout
guarded (`guarded_stdout`) so nothing Ray prints can land between the events. INPUTS may be
`-` (stdin). Ray is the one named by `RAY_ADDRESS`, else a local one.
"""

from __future__ import annotations

import sys

from ragrun.backends.ray import guarded_stdout, run_on_ray
from ragrun.jsonl import dumps_line


def main(pipeline: str, inputs: str) -> int:
    """Run the job; exit 1 when any line failed."""
    failed = False
    with guarded_stdout() as out:
        for event in run_on_ray(pipeline, inputs, actors=2, batch_size=4):
            out.write(dumps_line(event))
            out.flush()
            failed = failed or event.event == "run_failed"
    print("driver done", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
