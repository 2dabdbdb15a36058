"""The vendored licence texts match the checksums recorded when they were added."""

from __future__ import annotations

import hashlib
import json

from release.licensing.catalog import load_catalog
from release.resources import data_path

REQUIRED = {"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC", "MPL-2.0",
            "GPL-3.0-only", "LGPL-3.0-only", "AGPL-3.0-only", "Unlicense", "CC0-1.0",
            "CC-BY-4.0", "CC-BY-SA-4.0", "CDLA-Permissive-2.0", "OpenMDW-1.0"}


def test_texts_match_recorded_checksums() -> None:
    folder = data_path("licenses")
    index = json.loads((folder / "index.json").read_text())
    for entry in index:
        data = (folder / f"{entry['id']}.txt").read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["id"]
    assert {e["id"] for e in index} >= REQUIRED
    assert any(e["id"].startswith("LicenseRef-scancode-") and e["restricted"] for e in index)


def test_osi_flags_and_user_texts(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "LicenseRef-Custom.txt").write_text("custom terms")
    catalog = load_catalog(folder)
    assert catalog.licenses["MIT"].osi and not catalog.licenses["CC-BY-4.0"].osi
    assert catalog.licenses["CC-BY-NC-4.0"].restricted
    custom = catalog.licenses["LicenseRef-Custom"]
    assert not custom.osi and custom.text_path.name == "LicenseRef-Custom.txt"
