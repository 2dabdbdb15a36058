"""The wheel carries the card templates and licence texts, loadable from a fresh virtualenv."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from release.fingerprint.kernels.native import ABI
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
    assert "release/extract/data/unsafe_code.json" in zipfile.ZipFile(wheel).namelist()
    compiled = shutil.which("cc") is not None or shutil.which("gcc") is not None
    if compiled:  # the fingerprint kernels make the wheel platform-specific
        assert "release/fingerprint/kernels/_kernels.so" in zipfile.ZipFile(wheel).namelist()
        assert not wheel.name.endswith("-none-any.whl"), wheel.name
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
        # the kernels library loads (checked with ctypes: --no-deps left numpy out of this venv)
        "import ctypes, importlib.util, pathlib\n"
        "package = pathlib.Path(importlib.util.find_spec('release').origin).parent\n"
        "library = package / 'fingerprint' / 'kernels' / '_kernels.so'\n"
        f"assert library.is_file() == {compiled}\n"
        f"assert not library.is_file() or ctypes.CDLL(str(library)).rk_abi() == {ABI}\n"
    )
    result = subprocess.run([str(python), "-c", probe], check=True, capture_output=True,
                            text=True, cwd=tmp_path)
    folders = result.stdout.split()
    assert len(folders) == 2
    for folder in folders:
        assert str(venv) in folder and "site-packages/release/" in folder


@pytest.mark.slow
def test_sdist_carries_the_kernel_source_and_its_build_hook_not_a_binary(tmp_path: Path
                                                                         ) -> None:
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir",
                    str(tmp_path), str(REPO_ROOT)], check=True, capture_output=True)
    (sdist,) = tmp_path.glob("release-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"hatch_build.py", "src/release/fingerprint/kernels/_kernels.c"} <= names
    assert not any(name.endswith(".so") for name in names)


@pytest.mark.slow
def test_without_a_c_compiler_the_wheel_is_pure_python_and_says_why(tmp_path: Path) -> None:
    empty = tmp_path / "bin"  # a PATH with nothing on it: no cc, gcc or clang
    empty.mkdir()
    env = {"PATH": str(empty), "CC": "/nonexistent/cc", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                             "--outdir", str(tmp_path / "wheels"), str(REPO_ROOT)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no C compiler found" in result.stdout + result.stderr
    (wheel,) = (tmp_path / "wheels").glob("release-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    assert not any(name.endswith(".so") for name in zipfile.ZipFile(wheel).namelist())
    required = subprocess.run([sys.executable, "-m", "build", "--wheel",
                               "--no-isolation", "--outdir", str(tmp_path / "more"),
                               str(REPO_ROOT)], capture_output=True, text=True,
                              env={**env, "RELEASE_REQUIRE_NATIVE": "1"})
    assert required.returncode != 0
