"""The secret index key: from RELEASE_INDEX_KEY or a key file (generated on first build)."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from release.errors import ConfigError, InputError, UsageError, display_path

KEY_ENV = "RELEASE_INDEX_KEY"
MIN_KEY_CHARS = 32


@dataclass(frozen=True)
class IndexKey:
    """The secret, and the independent subkeys derived from it for each use."""

    secret: bytes
    origin: str  # where it came from, for messages (never the key itself)

    def _derive(self, purpose: str) -> bytes:
        return hashlib.blake2b(purpose.encode(), key=self.secret[:64], digest_size=16).digest()

    def sip(self, purpose: str) -> tuple[int, int]:
        raw = self._derive(purpose)
        return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")

    def mac(self, purpose: str, data: bytes) -> str:
        """A hex keyed hash of `data` (for record ids, file digests)."""
        return hashlib.blake2b(data, key=self._derive(purpose), digest_size=16).hexdigest()

    @property
    def key_id(self) -> str:
        """A public fingerprint of the key, so an index opened with the wrong key is detected."""
        return self.mac("key-id", b"release index key check")


def key_created_note(key_file: Path) -> str:
    """What to tell the user once a key file was generated."""
    return (f"generated a new index key in {display_path(key_file)}: keep it secret, out of "
            f"git, and give it to CI as {KEY_ENV}")


def _from_text(text: str, origin: str) -> IndexKey:
    text = text.strip()
    if len(text) < MIN_KEY_CHARS:
        raise UsageError(f"{origin}: the index key must be at least {MIN_KEY_CHARS} characters "
                         "(generate one with `python -c 'import secrets; "
                         "print(secrets.token_hex(32))'`)")
    return IndexKey(hashlib.sha256(text.encode("utf-8")).digest(), origin)


def load_key(key_file: Path, *, create: bool = False) -> tuple[IndexKey, bool]:
    """The key from the environment or the key file; with `create`, a missing key file is
    generated (mode 0600). Returns the key and whether it was just created."""
    env = os.environ.get(KEY_ENV)
    if env:
        return _from_text(env, KEY_ENV), False
    if key_file.exists():
        try:
            return _from_text(key_file.read_text(encoding="utf-8"), str(key_file)), False
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the index key ({type(exc).__name__})",
                             path=key_file) from None
    if not create:
        raise ConfigError(key_file, "data.key_file",
                          f"no index key: set {KEY_ENV} or provide this key file (the one the "
                          "index was built with)")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return _from_text(text, str(key_file)), True
