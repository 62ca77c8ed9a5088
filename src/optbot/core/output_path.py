"""What a command's `--out PATH` means: a file when it has a file suffix, else a folder.

`--out chart.png` writes that file (and its siblings with the same stem, e.g. chart.html); `--out
reports/` or an existing folder gets the command's default file names inside. A parent folder that
does not exist is refused in one line (exit 2) instead of being created silently from a typo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from optbot.core.errors import UserError


@dataclass(frozen=True, slots=True)
class OutputTarget:
    """Where to write: the folder, and the file stem and suffix the user named (None: the defaults)."""

    directory: Path
    stem: str | None = None
    suffix: str | None = None  # lower case with the dot, e.g. ".png"

    def path(self, default_stem: str, suffix: str) -> Path:
        """The file for one output kind: the user's stem (or the default one) with `suffix`."""
        return self.directory / f"{self.stem or default_stem}{suffix}"


def output_target(
    out: Path | None, default_directory: Path, suffixes: tuple[str, ...], option: str = "--out"
) -> OutputTarget:
    """Interpret `out` (see the module docstring); `suffixes` are the file kinds the command writes
    (none: it writes a folder of files, and a path with a suffix is refused)."""
    if out is None:
        return OutputTarget(default_directory)
    out = out.expanduser()
    if out.is_dir():
        return OutputTarget(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{option} {out}: the folder {parent} does not exist (create it first)")
    if out.suffix:
        suffix = out.suffix.lower()
        if not suffixes:
            raise UserError(f"{option} {out}: this command writes a folder of files; give a folder")
        if suffix not in suffixes:
            raise UserError(
                f"{option} {out}: a file here must end in {' or '.join(suffixes)} (or give a folder)"
            )
        return OutputTarget(parent, out.stem, suffix)
    if out.exists():
        raise UserError(f"{option} {out}: is a file without a suffix, not a folder")
    return OutputTarget(out)


__all__ = ["OutputTarget", "output_target"]
