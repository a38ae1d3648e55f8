"""One local Ray for the whole test session (starting it costs seconds): 2 CPUs, no dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ray_local() -> Iterator[Any]:
    """A local Ray the Ray backend finds already initialised (so it leaves it running).

    Its workers get the project root on PYTHONPATH, so pipelines can name test components
    such as `tests.backends.ray_components.Square` by dotted path.
    """
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="WARNING",
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()
