"""Signed releases: signed by `prepare` with a generated key or a test certificate chain,
published to a bare git remote and the local Hub, verified there by `release verify`, which
names the file after one byte of it changed on the remote."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.publish.conftest import Publishable, git_out, make_publishable
from tests.publish.hub_server import Blob, HubServer

pytest.importorskip("model_signing")
pytestmark = pytest.mark.slow

REPO_ID = "test-org/tiny-model"


def write_key(path: Path) -> Path:
    """A P-256 private key (PEM) and its public key beside it (.pub)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.with_suffix(".pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def write_chain(folder: Path) -> tuple[Path, Path, Path]:
    """A tiny CA: a root, and a code-signing leaf it issued; the leaf's key, the leaf, the
    root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "release test root")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaf_key = write_key(folder / "leaf.pem")
    leaf_public = serialization.load_pem_public_key(leaf_key.with_suffix(".pub").read_bytes())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "release signer")]))
            .issuer_name(root_name).public_key(leaf_public)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    (folder / "leaf.crt").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "root.crt").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return leaf_key, folder / "leaf.crt", folder / "root.crt"


def signed_project(tmp_path: Path, hub: HubServer, method: str) -> tuple[Publishable, list[str]]:
    """A project that signs with `method`, and the `release verify` options that trust it."""
    keys = tmp_path / "keys"
    keys.mkdir()
    if method == "key":
        key = write_key(keys / "signing.pem")
        section = f'[sign]\nmethod = "key"\nprivate_key = "{key}"\n'
        trust = ["--public-key", str(key.with_suffix(".pub"))]
    else:
        key, leaf, root = write_chain(keys)
        section = (f'[sign]\nmethod = "certificate"\nprivate_key = "{key}"\n'
                   f'certificate = "{leaf}"\ncertificate_chain = ["{root}"]\n')
        trust = ["--certificate-chain", str(root)]
    return make_publishable(tmp_path, hub.url, extra=section), trust


def change_one_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def tamper_git(remote: Path, work: Path, path: str) -> None:
    """Change one byte of `path` at the tag, as someone with push rights could."""
    subprocess.run(["git", "clone", "-q", "--branch", "v0.1.0", str(remote), str(work)],
                   check=True, capture_output=True)
    target = work / path
    target.write_bytes(change_one_byte(target.read_bytes()))
    git_out(work, "-c", "user.name=x", "-c", "user.email=x@example.invalid", "commit", "-q",
            "-am", "edit")
    git_out(work, "tag", "-f", "v0.1.0")
    git_out(work, "push", "-q", "-f", "origin", "refs/tags/v0.1.0")


def tamper_hub(hub: HubServer, path: str) -> None:
    repo = hub.state.repos[REPO_ID]
    commit = repo.commits[repo.tags["v0.1.0"]]
    files = dict(commit.files)
    data = files[path].data
    assert data is not None
    changed = change_one_byte(data)
    files[path] = Blob(changed, len(changed))
    repo.tags["v0.1.0"] = repo.new_commit(commit.sha, files, "edit")


@pytest.mark.parametrize("method", ["key", "certificate"])
def test_signed_published_verified_and_one_changed_byte_named(
        tmp_path: Path, hub: HubServer, cli: Callable[..., CliResult], method: str) -> None:
    target, trust = signed_project(tmp_path, hub, method)
    prepared = cli("prepare", "--config", target.config)
    assert prepared.code == 0, prepared.out + prepared.err
    assert "signed:" in prepared.err
    staged = target.staged.path
    assert (staged / "model.sig").is_file()
    assert cli("check", staged, "-q").code == 0  # the signature is not a stray file
    assert cli("verify", staged, *trust).code == 0
    for to in ("git", "hub"):
        published = cli("publish", "--to", to, "--config", target.config)
        assert published.code == 0, published.out + published.err
    git_source = ["--git", str(target.remote), "--tag", "v0.1.0"]
    hub_source = ["--hub", REPO_ID, "--revision", "v0.1.0", "--endpoint", hub.url]
    for source in (git_source, hub_source):
        verified = cli("verify", *source, *trust, "--format", "json")
        assert verified.code == 0, verified.out + verified.err
        assert json.loads(verified.out)["verdict"] == "pass"

    tamper_git(target.remote, tmp_path / "attacker", "README.md")  # the card
    tamper_hub(hub, "config.json")
    for source, changed in ((git_source, "README.md"), (hub_source, "config.json")):
        failed = cli("verify", *source, *trust, "--format", "json")
        assert failed.code == 1, failed.out + failed.err
        named = [(f["rule_id"], f["path"]) for f in json.loads(failed.out)["findings"]]
        assert ("RL612", changed) in named, named
        assert "NOT verified" in failed.err


def test_verify_refuses_another_key_and_an_unsigned_release(
        tmp_path: Path, hub: HubServer, cli: Callable[..., CliResult]) -> None:
    target, _ = signed_project(tmp_path, hub, "key")
    assert cli("prepare", "--config", target.config).code == 0
    other = write_key(tmp_path / "other.pem").with_suffix(".pub")
    wrong = cli("verify", target.staged.path, "--public-key", other, "--format", "json")
    assert wrong.code == 1
    (finding,) = json.loads(wrong.out)["findings"]
    assert finding["path"] == "model.sig" and "does not verify" in finding["message"]
    (target.staged.path / "model.sig").unlink()
    unsigned = cli("verify", target.staged.path, "--public-key", other)
    assert unsigned.code == 1 and "not signed" in unsigned.out
    resigned = cli("sign", "--config", target.config)
    assert resigned.code == 0, resigned.out + resigned.err
    assert (target.staged.path / "model.sig").is_file()


def test_check_finds_a_signature_of_other_bytes(tmp_path: Path, hub: HubServer,
                                                cli: Callable[..., CliResult]) -> None:
    """A folder edited together with its manifest passes the manifest but not the signature:
    check names the file; so does verify."""
    from release.digests import sha256_file
    from release.pipeline.manifest import MANIFEST_NAME

    target, trust = signed_project(tmp_path, hub, "key")
    assert cli("prepare", "--config", target.config).code == 0
    staged = target.staged.path
    card = staged / "README.md"
    card.write_bytes(change_one_byte(card.read_bytes()))
    manifest = json.loads((staged / MANIFEST_NAME).read_text())
    for entry in manifest["files"]:
        if entry["path"] == "README.md":
            entry["sha256"] = sha256_file(card)
    (staged / MANIFEST_NAME).write_text(json.dumps(manifest))
    checked = cli("check", staged, "--format", "json")
    assert checked.code == 1
    paths = {(f["rule_id"], f["path"]) for f in json.loads(checked.out)["findings"]}
    assert {("RL612", "README.md"), ("RL612", MANIFEST_NAME)} <= paths
    verified = cli("verify", staged, *trust, "--format", "json")
    assert verified.code == 1
    assert ("RL612", "README.md") in {(f["rule_id"], f["path"])
                                      for f in json.loads(verified.out)["findings"]}


def test_sign_config_errors(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    from release.config import load_config
    from release.errors import ConfigError

    config = tmp_path / "release.toml"
    base = '[release]\nname = "m"\nversion = "1"\n[model]\npath = "."\n'
    config.write_text(base + '[sign]\nmethod = "certificate"\nprivate_key = "k.pem"\n')
    with pytest.raises(ConfigError, match=r"sign\.certificate: is required"):
        load_config(config)
    config.write_text(base + '[sign]\nmethod = "pgp"\n')
    with pytest.raises(ConfigError, match=r"sign\.method: must be one of"):
        load_config(config)
    config.write_text(base + '[sign]\nmethod = "key"\nprivate_key = "k.pem"\nkye = 1\n')
    with pytest.raises(ConfigError, match=r"sign\.kye: unknown key"):
        load_config(config)


def test_a_key_that_cannot_sign_is_a_usage_error_and_nothing_is_staged_unsigned(
        tmp_path: Path, hub: HubServer, cli: Callable[..., CliResult]) -> None:
    target, _ = signed_project(tmp_path, hub, "key")
    key = tmp_path / "keys" / "signing.pem"
    key.write_text("not a key\n")
    result = cli("prepare", "--config", target.config)
    assert result.code == 2, result.out + result.err
    assert "cannot sign" in result.err and "Traceback" not in result.err
    assert not (target.staged.path / "model.sig").exists()
    assert not list(target.staged.path.parent.glob(".*.partial"))
    assert "README.md" not in {p.name for p in target.staged.path.iterdir()}  # not re-staged
    bad_trust = tmp_path / "not-a-key.pub"
    bad_trust.write_text("garbage\n")
    verified = cli("verify", target.staged.path, "--public-key", bad_trust)
    assert verified.code == 2 and "cannot read what you trust" in verified.err
