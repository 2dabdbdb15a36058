"""The wheel carries the card templates and licence texts, loadable from a fresh virtualenv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from release.resources import data_path
from tests.conftest import REPO_ROOT


def test_data_folders_resolve_in_the_checkout() -> None:
    assert (data_path("licenses") / "README.md").is_file()
    assert (data_path("model_card_templates") / "README.md").is_file()


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_loads_its_data(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(wheels), str(REPO_ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("release-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True)
    probe = (
        "from release.resources import data_path\n"
        "for name in ('licenses', 'model_card_templates'):\n"
        "    folder = data_path(name)\n"
        "    print(folder)\n"
        "    assert (folder / 'README.md').is_file()\n"
    )
    result = subprocess.run([str(python), "-c", probe], check=True, capture_output=True,
                            text=True, cwd=tmp_path)
    folders = result.stdout.split()
    assert len(folders) == 2
    for folder in folders:
        assert str(venv) in folder and "site-packages/release/" in folder
