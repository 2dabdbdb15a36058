"""The licences `release` knows offline: official texts shipped in the wheel, with an index of
SPDX id, name, OSI approval, Hugging Face id and whether the licence restricts use."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from release.errors import InputError
from release.resources import data_path


@dataclass(frozen=True)
class LicenseInfo:
    id: str
    name: str
    osi: bool
    hf: str | None
    restricted: bool
    text_path: Path
    sha256: str | None = None  # recorded when vendored; None for a user-supplied text


@dataclass(frozen=True)
class Catalog:
    licenses: dict[str, LicenseInfo]

    def get(self, spdx_id: str) -> LicenseInfo | None:
        return self.licenses.get(spdx_id)


def load_catalog(user_folder: Path | None = None) -> Catalog:
    """The shipped catalogue, plus `<ID>.txt` texts from the user's folder (for LicenseRef-
    licences, or SPDX licences the tool does not ship; those count as not OSI-approved unless
    shipped)."""
    folder = data_path("licenses")
    try:
        index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"the licence index is unreadable ({exc})", path=folder) from None
    licenses = {
        entry["id"]: LicenseInfo(entry["id"], entry["name"], bool(entry["osi"]), entry["hf"],
                                 bool(entry["restricted"]), folder / f"{entry['id']}.txt",
                                 entry["sha256"])
        for entry in index
    }
    if user_folder is not None and user_folder.is_dir():
        for path in sorted(user_folder.glob("*.txt")):
            spdx_id = path.stem
            if spdx_id not in licenses:
                licenses[spdx_id] = LicenseInfo(spdx_id, spdx_id, False, None, False, path)
    return Catalog(licenses)
