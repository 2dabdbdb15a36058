"""The secret index key: from RELEASE_INDEX_KEY or a key file (generated on first build)."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from release.atomic import prepare_file
from release.errors import ConfigError, InputError, UsageError, display_path
from release.regular import NotRegular, read_regular

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


def _read_key_file(key_file: Path) -> str:
    try:
        return read_regular(key_file, 1 << 16).decode("utf-8")
    except NotRegular as exc:
        raise UsageError(f"the index key file is {exc.strerror}; point data.key_file at the "
                         "key", path=key_file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the index key ({type(exc).__name__})",
                         path=key_file) from None


def _write_key(key_file: Path, *, replace: bool) -> str:
    """A new key, written whole to a temporary file, flushed, and then linked into place (or,
    replacing a broken one, renamed over it): a killed run never leaves a half-written key, and
    of two first builds at once one key wins and both use it."""
    text = secrets.token_hex(32) + "\n"
    pending = prepare_file(key_file, text, mode=0o600)
    if replace:
        pending.commit()
        return text
    try:
        pending.link()
    except FileExistsError:  # another run made it first: that key is the key
        return _read_key_file(key_file)
    return text


def load_key(key_file: Path, *, create: bool = False,
             replace_broken: bool = False) -> tuple[IndexKey, bool]:
    """The key from the environment or the key file; with `create`, a missing key file is
    generated (mode 0600). A key file too short to be a key (a run killed while writing it
    before keys were written atomically) is replaced when `replace_broken` says nothing was
    built with it, and is an error otherwise. Returns the key and whether it was created."""
    env = os.environ.get(KEY_ENV)
    if env:
        return _from_text(env, KEY_ENV), False
    if key_file.exists() or key_file.is_symlink():
        text = _read_key_file(key_file)
        if len(text.strip()) >= MIN_KEY_CHARS or not (create and replace_broken):
            return _from_text(text, str(key_file)), False
        return _from_text(_write_key(key_file, replace=True), str(key_file)), True
    if not create:
        raise ConfigError(key_file, "data.key_file",
                          f"no index key: set {KEY_ENV} or provide this key file (the one the "
                          "index was built with)")
    text = _write_key(key_file, replace=False)
    return _from_text(text, str(key_file)), True
