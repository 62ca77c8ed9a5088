"""`--out`: a path with a file suffix is a file, a folder gets the default name, a missing parent
is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from optbot.core.errors import UserError
from optbot.core.output_path import OutputTarget, output_target

KINDS = (".html", ".png")


def test_no_out_is_the_default_folder(tmp_path: Path) -> None:
    assert output_target(None, tmp_path / "reports", KINDS) == OutputTarget(tmp_path / "reports")


def test_a_file_suffix_names_the_file(tmp_path: Path) -> None:
    target = output_target(tmp_path / "Chart.PNG", tmp_path / "default", KINDS)
    assert target == OutputTarget(tmp_path, "Chart", ".png")
    assert target.path("payoff-x", ".html") == tmp_path / "Chart.html"


def test_a_folder_gets_the_default_name(tmp_path: Path) -> None:
    existing = output_target(tmp_path, tmp_path / "default", KINDS)
    assert existing.path("payoff-x", ".html") == tmp_path / "payoff-x.html"
    fresh = output_target(tmp_path / "charts", tmp_path / "default", KINDS)  # created by the writer
    assert fresh == OutputTarget(tmp_path / "charts")
    dotted = tmp_path / "run.v2"
    dotted.mkdir()
    assert output_target(dotted, tmp_path, KINDS) == OutputTarget(dotted)  # an existing folder is a folder


@pytest.mark.parametrize("name", ["missing/x.png", "missing/charts"])
def test_a_missing_parent_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError, match=r"--out .*: the folder .*missing does not exist"):
        output_target(tmp_path / name, tmp_path, KINDS)


def test_an_unknown_suffix_and_a_suffixless_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"must end in \.html or \.png"):
        output_target(tmp_path / "x.pdf", tmp_path, KINDS)
    (tmp_path / "notes").write_text("x")
    with pytest.raises(UserError, match="is a file without a suffix"):
        output_target(tmp_path / "notes", tmp_path, KINDS)


def test_a_command_writing_a_folder_refuses_a_file_name(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="writes a folder of files; give a folder"):
        output_target(tmp_path / "regimes.html", tmp_path, ())
    assert output_target(tmp_path / "regimes", tmp_path, ()) == OutputTarget(tmp_path / "regimes")
