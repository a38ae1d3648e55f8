"""What the store-file tests share."""

from __future__ import annotations

import os
from pathlib import Path

MOVE_IT_AWAY = "move it"  # every hint about a bad file says to move it away


def store_copy(path: Path) -> Path:
    """A byte copy of a closed store file under another name (another collection)."""
    copy = path.with_name(f"copy-{os.urandom(4).hex()}.store")
    copy.write_bytes(path.read_bytes())
    return copy
