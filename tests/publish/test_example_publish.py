"""The bundled example, prepared and published to a bare git remote and to the local Hub."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from release.digests import sha256_file
from release.pipeline.manifest import MANIFEST_NAME, read_manifest
from tests.conftest import CliResult
from tests.publish.conftest import remote_refs
from tests.publish.hub_server import HubServer

REPO_ID = "example-org/clinic-notes-classifier"


@pytest.mark.slow
def test_example_published_to_git_and_hub(example_copy: Path, hub: HubServer, tmp_path: Path,
                                          cli: Callable[..., CliResult]) -> None:
    from huggingface_hub import snapshot_download

    config = example_copy / "release.toml"
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    text = config.read_text().replace("https://huggingface.co/", f"{hub.url}/")
    text = text.replace('tag = "v{version}"\n', f'tag = "v{{version}}"\nendpoint = "{hub.url}"\n')
    config.write_text(text + f'\n[publish.git]\nremote = "{remote}"\n')
    prepared = cli("prepare", "--config", config)
    assert prepared.code == 0, prepared.out + prepared.err
    staged = example_copy / "dist" / "example-org--clinic-notes-classifier-1.0.0"
    manifest = read_manifest(staged)

    for target in ("git", "hub"):
        result = cli("publish", "--to", target, "--config", config)
        assert result.code == 0, result.out + result.err
    snapshot = Path(snapshot_download(REPO_ID, revision="v1.0.0", endpoint=hub.url,
                                      cache_dir=tmp_path / "cache"))
    for entry in manifest.files:
        assert sha256_file(snapshot / entry.path) == entry.sha256, entry.path
    assert (snapshot / MANIFEST_NAME).read_bytes() == (staged / MANIFEST_NAME).read_bytes()

    refs = remote_refs(remote)
    hub.state.calls.clear()
    for target in ("git", "hub"):
        again = cli("publish", "--to", target, "--config", config)
        assert again.code == 0 and "already published" in again.err
    assert remote_refs(remote) == refs and "commit" not in hub.state.calls
    assert cli("check", "--config", config).code == 0
