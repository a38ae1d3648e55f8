"""Backends: where the runs of a batch execute when one process is not enough.

`ragrun.backends.ray.run_on_ray` runs one pipeline over a JSON-lines file on a Ray cluster (or
a local Ray started for the job), with the same events and accounting as local batch mode.
Nothing here is imported by `import ragrun`; Ray itself is imported only when a job starts.
"""

from __future__ import annotations
