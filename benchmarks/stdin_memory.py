"""Peak memory of 100,000 trivial runs streamed from stdin through `ragrun FILE --inputs -`.

Run: `python benchmarks/stdin_memory.py [--lines 100000] [--concurrency 100]` from the
repository root.

The pipeline is one trivial component (`Echo`, defined below and loaded by its dotted path).
This script starts `python -m ragrun PIPE.yaml --inputs - --concurrency 100` with stdout to
/dev/null and writes the lines into its stdin from a thread as fast as the pipe takes them (so
ragrun's backpressure, not this script, sets the pace). The ragrun process's RSS is sampled
with psutil every 20 ms; the peak is also read from the kernel (`getrusage(RUSAGE_CHILDREN)`
`ru_maxrss`, the high-water mark, which sampling cannot miss). A one-line run of the same
pipeline gives the baseline: the interpreter, imports and the loaded pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ragrun import component

HERE = Path(__file__).resolve().parent
PIPELINE = """
inputs:
  text: [echo.text]
components:
  echo:
    type: stdin_memory.Echo
"""


@component
class Echo:
    """Returns its input: the least a component can do."""

    @component.output_types(text=str)
    def run(self, text: str) -> dict:
        return {"text": text}


def feed(stdin, count: int, progress: list[int]) -> None:
    """Write `count` JSON lines into the child's stdin, counting them as they go."""
    with stdin:
        for i in range(count):
            stdin.write(json.dumps({"text": f"line {i}"}).encode() + b"\n")
            progress[0] = i + 1


def run_ragrun(yaml_path: Path, lines: int, concurrency: int) -> dict:
    """Run the batch; return peak RSS (sampled, kernel), RSS by progress, summary, seconds."""
    import psutil

    command = [sys.executable, "-m", "ragrun", str(yaml_path), "--inputs", "-"]
    command += ["--concurrency", str(concurrency)]
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.PIPE, env=env
        )
        watched = psutil.Process(proc.pid)
        progress = [0]
        writer = threading.Thread(target=feed, args=(proc.stdin, lines, progress), daemon=True)
        writer.start()
        peak, by_progress = 0, {}
        marks = [m for m in (0.1, 0.25, 0.5, 0.75, 1.0) if m * lines >= 1]
        while proc.poll() is None:
            try:
                rss = watched.memory_info().rss
            except psutil.NoSuchProcess:
                break
            peak = max(peak, rss)
            while marks and progress[0] >= marks[0] * lines:
                by_progress[marks.pop(0)] = rss
            time.sleep(0.02)
        stderr = proc.stderr.read().decode()
        proc.wait()
        writer.join()
    seconds = time.perf_counter() - started
    kernel_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    return {
        "peak": peak,
        "kernel_peak": kernel_peak,
        "by_progress": by_progress,
        "summary": stderr.strip().splitlines()[-1] if stderr.strip() else "",
        "seconds": seconds,
        "code": proc.returncode,
    }


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        yaml_path = Path(tmp) / "echo.yaml"
        yaml_path.write_text(PIPELINE, encoding="utf-8")
        base = run_ragrun(yaml_path, 1, args.concurrency)
        big = run_ragrun(yaml_path, args.lines, args.concurrency)
    assert base["code"] == 0, base
    assert big["code"] == 0 and re.search(rf"{args.lines} ok, 0 failed", big["summary"]), big
    print(f"{args.lines:,} runs from stdin, --concurrency {args.concurrency}, stdout to /dev/null")
    print(f"ragrun's summary: `{big['summary']}`")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| peak RSS, 1 line (interpreter + imports + pipeline) | {mib(base['peak'])} |")
    print(f"| **peak RSS, {args.lines:,} lines (sampled every 20 ms)** | {mib(big['peak'])} |")
    print(f"| peak RSS, high-water mark from the kernel (ru_maxrss) | {mib(big['kernel_peak'])} |")
    for mark, rss in big["by_progress"].items():
        print(f"| RSS when {mark:.0%} of the lines had been written | {mib(rss)} |")
    print(f"| wall, whole process | {big['seconds']:.1f} s |")
    print(f"| runs/s | {args.lines / big['seconds']:.0f} |")


if __name__ == "__main__":
    main()
