"""Signs a staged release in the OpenSSF Model Signing format (every file: the card, the report
and the manifest included) and verifies one, naming each file that differs from what was signed."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import rules
from release.config import SignSettings
from release.digests import sha256_file
from release.errors import ReleaseError, UsageError
from release.findings import Finding
from release.pipeline.manifest import SIGNATURE_NAME
from release.regular import read_regular

# what a clone of a published tree or a download of it holds beside the signed files
_IGNORED = (SIGNATURE_NAME, ".git", ".gitattributes", ".cache/huggingface")
MAX_SIGNATURE_BYTES = 64 << 20


def _library() -> Any:
    try:
        import model_signing
        from model_signing import hashing, signing, verifying  # noqa: F401
    except ImportError:
        raise UsageError("signing needs the [sign] extra (pip install 'release[sign]')") \
            from None
    return model_signing


def _hashing(folder: Path) -> Any:
    """Files hashed whole with sha256, symlinks refused; the signature itself and what a
    publication adds (.git, .gitattributes, a download's .cache/huggingface) left out."""
    hashing = _library().hashing
    return hashing.Config().use_file_serialization(
        hashing_algorithm="sha256", allow_symlinks=False).set_ignored_paths(
        paths=[folder / p for p in _IGNORED], ignore_git_paths=True)


def _password(settings: SignSettings) -> str | None:
    if settings.password_env is None:
        return None
    value = os.environ.get(settings.password_env)
    if value is None:
        raise UsageError(f"[sign].password_env names {settings.password_env}, which is not "
                         "set in the environment")
    return value


def _signer(settings: SignSettings) -> Any:
    signing = _library().signing
    config = signing.Config()
    if settings.method == "key":
        return config.use_elliptic_key_signer(private_key=settings.private_key,
                                              password=_password(settings))
    if settings.method == "certificate":
        if _password(settings) is not None:
            raise UsageError("[sign].password_env: the certificate method takes an "
                             "unencrypted key")
        return config.use_certificate_signer(
            private_key=settings.private_key, signing_certificate=settings.certificate,
            certificate_chain=list(settings.certificate_chain))
    return config.use_sigstore_signer()  # keyless: an ambient OIDC token (CI) or a browser


@contextmanager
def _library_errors(what: str) -> Iterator[None]:
    """The library's errors as ours (exit 2, the first line of the library's message)."""
    try:
        yield
    except ReleaseError:
        raise
    except FileNotFoundError as exc:
        raise UsageError(f"{what}: {exc.filename} does not exist") from None
    except (ValueError, TypeError, OSError) as exc:
        raise UsageError(f"{what}: {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:300]



def check_signer(settings: SignSettings) -> None:
    """Read the key (and certificates) now, so that a key that cannot sign stops a run before
    it stages or pushes anything."""
    with _library_errors("[sign] cannot sign with this key or certificate"):
        _signer(settings)


def sign_folder(folder: Path, settings: SignSettings) -> Path:
    """Write `folder/model.sig` over every file of the folder. The signature is made beside
    the folder and renamed in, so a failed or killed signing leaves the folder as it was."""
    with _library_errors("[sign] cannot sign with this key or certificate"):
        signer = _signer(settings)
    handle, scratch = tempfile.mkstemp(prefix=f".{folder.name}.sig.", suffix=".partial",
                                       dir=folder.parent)
    os.close(handle)
    try:
        with _library_errors("signing failed"):
            signer.set_hashing_config(_hashing(folder)).sign(folder, scratch)
        os.chmod(scratch, 0o644)
        os.replace(scratch, folder / SIGNATURE_NAME)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return folder / SIGNATURE_NAME


@dataclass(frozen=True)
class Trust:
    """What a downstream user trusts: a public key, a certificate chain, or a Sigstore
    identity and its OIDC issuer."""

    public_key: Path | None = None
    certificate_chain: tuple[Path, ...] = ()
    identity: str | None = None
    issuer: str | None = None

    def verifier(self) -> Any:
        verifying = _library().verifying
        config = verifying.Config()
        if self.public_key is not None:
            return config.use_elliptic_key_verifier(public_key=self.public_key)
        if self.certificate_chain:
            return config.use_certificate_verifier(
                certificate_chain=list(self.certificate_chain))
        if self.identity and self.issuer:
            return config.use_sigstore_verifier(identity=self.identity,
                                                oidc_issuer=self.issuer)
        raise UsageError("say what to trust: --public-key, --certificate-chain, or "
                         "--identity with --issuer")


def signed_digests(signature: Path) -> dict[str, str]:
    """The sha256 of every file the signature names, read from its statement (not verified:
    for saying which file differs)."""
    try:
        bundle = json.loads(read_regular(signature, limit=MAX_SIGNATURE_BYTES))
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        resources = statement["predicate"]["resources"]
        return {str(r["name"]): str(r["digest"]) for r in resources
                if r.get("algorithm") == "sha256"}
    except (ValueError, KeyError, TypeError, OSError):
        return {}


def present_digests(folder: Path) -> dict[str, str]:
    """The sha256 of every file the signature covers where it lies (links: not a digest)."""
    files = {}
    for here, dirs, names in os.walk(folder, followlinks=False):
        base = Path(here)
        dirs[:] = [d for d in dirs
                   if (base / d).relative_to(folder).as_posix() not in _IGNORED]
        for name in names:
            relative = (base / name).relative_to(folder).as_posix()
            if relative not in _IGNORED:
                path = base / name
                files[relative] = "link" if path.is_symlink() else sha256_file(path)
    return files


def differences(signed: dict[str, str], present: dict[str, str]) -> list[Finding]:
    """Each file that is not as signed: changed, added or missing."""
    findings = []
    for path in sorted(set(signed) | set(present)):
        if path not in present:
            findings.append(Finding(rules.SIGNATURE_MISMATCH, path,
                                    "is signed but missing", basis="missing"))
        elif path not in signed:
            findings.append(Finding(rules.SIGNATURE_MISMATCH, path,
                                    "is not covered by the signature (added after signing)",
                                    basis="added"))
        elif present[path] != signed[path]:
            findings.append(Finding(rules.SIGNATURE_MISMATCH, path,
                                    "differs from the signed file", basis="changed",
                                    evidence={"signed_sha256": signed[path],
                                              "sha256": present[path]}))
    return findings


def verify_folder(folder: Path, trust: Trust) -> list[Finding]:
    """The signature checked against `trust` and every file against the signature; findings
    name the files that differ. No finding: the folder is exactly what was signed."""
    with _library_errors("cannot read what you trust"):
        verifier = trust.verifier().set_hashing_config(_hashing(folder))
    signature = folder / SIGNATURE_NAME
    if not signature.is_file() or signature.is_symlink():
        return [Finding(rules.SIGNATURE_MISMATCH, SIGNATURE_NAME,
                        "no signature: the release was not signed", basis="unsigned")]
    try:
        verifier.verify(folder, signature)
    except Exception as exc:  # the library's crypto and protobuf errors share no base
        if isinstance(exc, ValueError) and str(exc).startswith("Signature mismatch"):
            mismatched = differences(signed_digests(signature), present_digests(folder))
            if mismatched:
                return mismatched
        return [Finding(rules.SIGNATURE_MISMATCH, SIGNATURE_NAME,
                        "the signature does not verify with what you trust "
                        f"({type(exc).__name__}: {_first_line(exc)})", basis="invalid")]
    return []
