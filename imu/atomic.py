"""Outputs that appear whole or not at all: written under a temporary sibling name, renamed
into place only once complete. A killed export or report leaves a hidden `.NAME.partial-PID`
behind, never a file that looks finished."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


@contextmanager
def replacing_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes `path` when the block ends without error."""
    path = Path(path)
    tmp = _partial(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def replacing_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder to fill; its files move into `path` (created if needed) when the
    block ends without error, each by one rename. Leftovers of killed runs are removed first."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = _partial(path)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if not path.exists():
            os.rename(tmp, path)
            return
        for item in sorted(tmp.iterdir(), key=lambda p: p.name == "summary.json"):  # summary last
            os.replace(item, path / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
