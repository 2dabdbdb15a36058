"""Locates the data shipped inside the wheel (licence texts, card templates, schemas)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DATA_FOLDERS = ("model_card_templates", "licenses")


def data_path(folder: str) -> Path:
    """The folder of packaged data named `folder`, from the installed package.

    In a wheel the folders sit inside the `release` package; in an editable checkout they sit
    at the repository root, next to `src/`.
    """
    if folder not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {folder!r}")
    packaged = Path(str(resources.files("release").joinpath(folder)))
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / folder
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"packaged data folder {folder!r} is missing from this installation")

