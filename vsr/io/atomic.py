"""Atomic output: write beside the target under a temporary name, rename at the end."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from vsr.errors import OutputError


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


class AtomicOutput:
    """A temporary path next to ``final``; :meth:`commit` renames it into place, :meth:`discard`
    removes it. Refuses an existing target unless ``overwrite``, and refuses the input itself."""

    def __init__(self, final: str | os.PathLike[str], *, overwrite: bool = False,
                 inputs: tuple[str | os.PathLike[str], ...] = ()) -> None:
        self.final = Path(final)
        for inp in inputs:
            p = Path(inp)
            if same_file(p, self.final) or p.resolve() == self.final.resolve():
                raise OutputError(f"output {self.final} is the input; choose another name")
        if self.final.is_dir():
            raise OutputError(f"output {self.final} is a directory; give a file name")
        if self.final.exists() and not overwrite:
            raise OutputError(f"output {self.final} exists (use --overwrite to replace it)")
        parent = self.final.parent if str(self.final.parent) else Path(".")
        if not parent.exists():
            raise OutputError(f"output directory does not exist: {parent}")
        if not parent.is_dir():
            raise OutputError(f"output directory is not a directory: {parent}")
        self.tmp = parent / f".{self.final.stem}.vsr-partial-{uuid.uuid4().hex[:8]}{self.final.suffix}"
        try:
            with open(self.tmp, "xb"):
                pass
        except OSError as e:
            raise OutputError(f"cannot write to {parent}: {e.strerror or e}") from None

    def commit(self) -> Path:
        os.replace(self.tmp, self.final)
        return self.final

    def discard(self) -> None:
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass
