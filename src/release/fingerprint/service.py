"""The index as the commands use it: loaded for a scan (rebuilt when stale, or how to build it
said), built on request, described without the key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from release.config import CheckSettings, Config, DataSettings
from release.errors import UsageError, display_path
from release.fingerprint.build import build_index
from release.fingerprint.engines import DaskEngine, Engine, LocalEngine
from release.fingerprint.index import (
    INDEX_FORMAT,
    IndexFormatError,
    IndexMeta,
    IndexParams,
    LoadedIndex,
    index_size,
    load_index,
    read_meta,
)
from release.fingerprint.keys import IndexKey, load_key
from release.lock import project_lock
from release.ownership import is_index_folder
from release.progress import Progress
from release.sources import source_mtime


def sources_digest(data: DataSettings, checks: CheckSettings) -> str:
    """What the index depends on in the config: sources, their fields, and the thresholds."""
    described: list[list[object]] = [
        [str(s.path), s.format, s.id_field,
         None if s.text_fields is None else list(s.text_fields), list(s.sensitive_fields),
         s.record]
        for s in data.sources
    ]
    described.append([checks.min_match_words, checks.min_sensitive_chars])
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


def sources_readable(data: DataSettings) -> bool:
    return bool(data.sources) and all(s.path.exists() for s in data.sources)


def _stale_reason(meta: IndexMeta, data: DataSettings, checks: CheckSettings) -> str | None:
    wanted = IndexParams.for_checks(checks.min_match_words, checks.min_sensitive_chars)
    if (meta.params.min_match_words, meta.params.min_sensitive_chars) != (
            wanted.min_match_words, wanted.min_sensitive_chars):
        return "it was built for other [checks] thresholds"
    if meta.config_digest != sources_digest(data, checks):
        return "[data.sources] changed since it was built"
    if not sources_readable(data):
        return None  # where the data is absent (CI) the index is taken as built
    for stamp, source in zip(meta.sources, data.sources, strict=True):
        if (source.path.stat().st_size != stamp.size
                or source_mtime(source) != stamp.mtime_ns):
            return f"{stamp.key} changed since it was built"
    return None


@dataclass(frozen=True)
class IndexStatus:
    index: LoadedIndex
    built: bool  # built (or rebuilt) by this call
    reason: str | None  # why it was rebuilt
    key_created: bool


def ensure_index(config: Config, progress: Progress) -> IndexStatus:
    """The loaded index; built first when missing or stale and the data is readable here."""
    readable = sources_readable(config.data)
    meta = None
    unusable = "there is no index yet"
    if (config.data.index / "meta.json").exists():
        try:
            meta = read_meta(config.data.index)  # a corrupt one is an input error
        except IndexFormatError as exc:
            unusable = f"it is in index format {exc.found}; this version of release reads " \
                       f"{INDEX_FORMAT}"
    if meta is None and not readable:
        raise _cannot_use(config, unusable)
    key, created = load_key(config.data.key_file, create=readable,
                            replace_broken=meta is None)
    reason: str | None = unusable
    if meta is not None:
        reason = _stale_reason(meta, config.data, config.checks)
        if reason is None and meta.key_id != key.key_id and readable:
            reason = f"it was built with another key than {key.origin}"
    if reason is not None:
        if not readable:
            raise _cannot_use(config, reason)
        with project_lock(config.root):
            build(config, key, progress)
    return IndexStatus(load_index(config.data.index, key), reason is not None, reason, created)


def _cannot_use(config: Config, reason: str) -> UsageError:
    """Why the index cannot be used here: the data sources that are missing are named, since a
    mistyped path is the usual cause where some of them are here."""
    missing = [(n, s) for n, s in enumerate(config.data.sources) if not s.path.exists()]
    named = "; ".join(f"data.sources[{n}].path {display_path(s.path)} does not exist"
                      for n, s in missing[:3])
    if len(missing) < len(config.data.sources):  # some are here: not a machine without data
        return UsageError(f"{named} (check the path in {display_path(config.path)}); the "
                          f"fingerprint index cannot be built without it ({reason})")
    return UsageError(
        f"the fingerprint index at {display_path(config.data.index)} cannot be used ({reason}) "
        f"and the data sources are not here ({named}); check their paths, or run `release "
        f"index build --config {display_path(config.path)}` where the data lives")


def build(config: Config, key: IndexKey, progress: Progress,
          engine: Engine | None = None) -> IndexMeta:
    return build_index(config, key, progress=progress,
                       config_digest=sources_digest(config.data, config.checks), engine=engine)


@contextmanager
def build_engine(config: Config, name: str | None = None, scheduler: str | None = None
                 ) -> Iterator[Engine]:
    """The engine an index build runs on: the command line's choice, else [data].engine;
    Dask connects to the scheduler given (or [data].scheduler) or starts a LocalCluster."""
    name = name or config.data.engine
    if name == "local":
        yield LocalEngine()
        return
    with DaskEngine(scheduler or config.data.scheduler) as engine:
        yield engine


def build_notes(data: DataSettings) -> list[str]:
    """What a user should hear once about how the index was built."""
    return [f"data.sources[{number}] names no text_fields: every field but the id was indexed "
            "as text" for number, source in enumerate(data.sources)
            if source.text_fields is None and source.format != "txt"]


@dataclass(frozen=True)
class BuiltIndex:
    meta: IndexMeta
    size: int  # bytes on disk
    key_created: bool  # a new key file was generated for this build


def build_from_config(config: Config, progress: Progress, *, engine: str | None = None,
                      scheduler: str | None = None) -> BuiltIndex:
    """`release index build`: the key (generated on the first build) and the index."""
    with project_lock(config.root):
        key, created = load_key(config.data.key_file, create=True,
                                replace_broken=not is_index_folder(config.data.index))
        with build_engine(config, engine, scheduler) as chosen:
            meta = build(config, key, progress, chosen)
    return BuiltIndex(meta, index_size(config.data.index), created)


@dataclass(frozen=True)
class IndexInfo:
    """What `release index info` tells without the key: sizes, counts and parameters."""

    path: str
    size: int
    meta: IndexMeta

    @property
    def bytes_per_text_byte(self) -> float | None:
        return round(self.size / self.meta.text_bytes, 4) if self.meta.text_bytes else None

    def to_dict(self) -> dict[str, object]:
        meta = self.meta
        return {
            "path": self.path, "bytes": self.size, "records": meta.records, "units": meta.units,
            "grams": meta.grams, "sensitive_values": meta.sensitive,
            "text_bytes": meta.text_bytes, "bytes_per_text_byte": self.bytes_per_text_byte,
            "params": asdict(meta.params), "created": meta.created,
            "sources": [{"key": s.key, "size": s.size} for s in meta.sources],
            "tool_version": meta.tool_version,
        }


def describe_index(config: Config) -> IndexInfo:
    meta = read_meta(config.data.index)  # first: it says when there is no index
    return IndexInfo(display_path(config.data.index), index_size(config.data.index), meta)


def merge_from_config(config: Config, indexes: list[Path], target: Path,
                      progress: Progress) -> BuiltIndex:
    """`release index merge`: the indexes (built with the config's key) as one at `target`;
    when their sources, in order, are the config's, a scan with the config takes it as
    built."""
    from release.fingerprint.build import merge_indexes

    key, _ = load_key(config.data.key_file)
    paths = [str(stamp.path) for index in indexes for stamp in read_meta(index).sources]
    digest = sources_digest(config.data, config.checks) \
        if paths == [str(s.path) for s in config.data.sources] else ""
    with project_lock(config.root):
        meta = merge_indexes(indexes, target, key, memory=config.data.build_memory,
                             config_digest=digest, progress=progress)
    return BuiltIndex(meta, index_size(target), False)
