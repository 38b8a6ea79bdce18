"""Atomic output: write beside the target under a temporary name, rename at the end."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from vsr.errors import OutputError
from vsr.io.image import numbered_files


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def output_directory(final: Path) -> Path:
    parent = final.parent if str(final.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"output directory does not exist: {parent}")
    if not parent.is_dir():
        raise OutputError(f"output directory is not a directory: {parent}")
    return parent


def input_files(inputs: tuple[str | os.PathLike[str], ...]) -> set[Path]:
    """The files the inputs are: a file, a folder's files, or the files a frame-number pattern names."""
    files: set[Path] = set()
    for inp in inputs:
        p = Path(inp)
        if p.is_dir():
            files.update(f.resolve() for f in p.iterdir() if f.is_file())
        elif p.exists():
            files.add(p.resolve())
        else:
            files.update(f.resolve() for _, f in numbered_files(p))
    return files


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
        parent = output_directory(self.final)
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


class AtomicSequence:
    """Numbered images (``frames/%04d.png``, as ffmpeg's image2 muxer writes them, from 1): written
    into a hidden folder beside them (:attr:`tmp` is the pattern inside it) and moved into place by
    :meth:`commit`, each by an atomic rename; :meth:`discard` removes the folder. So no frame is ever
    seen half-written, a failed run leaves none, and an interrupted one the frames so far. Refuses
    existing frames of the pattern unless ``overwrite``, and the input's own frames always."""

    def __init__(self, final: str | os.PathLike[str], *, overwrite: bool = False,
                 inputs: tuple[str | os.PathLike[str], ...] = ()) -> None:
        self.final = Path(final)
        parent = output_directory(self.final)
        existing = numbered_files(self.final)
        ours = input_files(inputs)
        if any(f.resolve() in ours for _, f in existing):
            raise OutputError(f"output {self.final} names the input's own frames; choose another name")
        if existing and not overwrite:
            raise OutputError(f"output {self.final} exists: {len(existing)} frames match it, from "
                              f"{existing[0][1].name} (use --overwrite to replace them)")
        self.parent = parent
        self.folder = parent / f".{self.final.stem.replace('%', '')}.vsr-partial-{uuid.uuid4().hex[:8]}"
        try:
            self.folder.mkdir()
        except OSError as e:
            raise OutputError(f"cannot write to {parent}: {e.strerror or e}") from None
        self.tmp = self.folder / self.final.name
        self.stale = [f for _, f in existing]  # frames of an earlier run (with --overwrite)

    def commit(self) -> Path:
        written = sorted(self.folder.iterdir())
        for f in written:
            os.replace(f, self.parent / f.name)
        self.folder.rmdir()
        names = {f.name for f in written}
        self.stale = [f for f in self.stale if f.name not in names]  # past this run's last frame
        return self.final

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
