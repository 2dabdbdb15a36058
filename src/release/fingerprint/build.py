"""Builds the keyed fingerprint index from the data sources: every source read once, streamed,
in batches; hashes, counts and ids written, never text."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path
from typing import cast

import numpy as np

from release.atomic import building_folder, replace_folder
from release.config import Config, DataSource
from release.errors import ConfigError, InputError, UsageError, display_path
from release.fingerprint.assemble import (
    PartRuns,
    fingerprint_bits_for,
    plan_layout,
    write_gram_bitmap,
    write_sensitive,
    write_tables,
)
from release.fingerprint.engines import Engine, LocalEngine, work_bytes
from release.fingerprint.index import (
    ALL_BITS,
    MAX_SENSITIVE_TOKENS,
    IndexMeta,
    IndexParams,
    LoadedIndex,
    SourceStamp,
    read_meta,
    record_id,
    shipped_digest,
)
from release.fingerprint.kernels import KERNELS, U64, Kernels
from release.fingerprint.keys import IndexKey
from release.fingerprint.spill import FIRST_ROW, GRAM_ROW, SENSITIVE_ROW, Spill, part_spills
from release.fingerprint.tokens import (
    fold_many,
    gram_fingerprints,
    gram_hashes_at,
    siphash13,
    tokenize,
)
from release.ownership import clean_leftovers, is_index_folder, require_replaceable
from release.progress import Progress, SilentProgress
from release.remote import sha256_of
from release.sources import (
    Piece,
    RecordBatch,
    format_mismatch,
    iter_batches,
    source_files,
    source_mtime,
    source_pieces,
)

BATCH_BYTES = 1 << 20


def source_stamp(index: int, source: DataSource, key: IndexKey) -> SourceStamp:
    """Size, mtime and keyed digests of a source's files (raises OSError when unreadable)."""
    digests = tuple((path.stat().st_size, shipped_digest(key, sha256_of(path)))
                    for path in source_files(source))
    return SourceStamp(f"data.sources[{index}]", str(source.path), source.path.stat().st_size,
                       source_mtime(source), digests)


@dataclass
class Values:
    """Texts (or sensitive values) gathered for one build batch, with their record numbers."""

    values: list[str] = field(default_factory=list)
    parts: list[np.ndarray] = field(default_factory=list)

    def add(self, values: list[str], records: np.ndarray) -> None:
        self.values.extend(values)
        self.parts.append(records)

    @property
    def records(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=np.int64)


@dataclass
class Part:
    """What hashing one source gave: its counts, its tally, and the files it spilled (record
    and unit numbers local to it until the index is written)."""

    number: int
    folder: Path
    grams: Spill
    sensitive: Spill
    first: Spill
    records: int = 0
    units: int = 0
    longest_unit: int = 0  # tokens
    text_bytes: int = 0
    tally: _SourceTally = field(default_factory=lambda: _SourceTally())

    @property
    def ids_path(self) -> Path:
        return self.folder / "ids.bin"

    @property
    def id_lengths_path(self) -> Path:
        return self.folder / "id_lengths.u8"

    @property
    def units_path(self) -> Path:
        return self.folder / "units.u8"


@dataclass
class _Hasher:
    """Hashes one source's batches into a Part's spills and files."""

    params: IndexParams
    key: IndexKey
    part: Part
    kernels: Kernels = KERNELS

    def add_batch(self, texts: Values, sensitive: Values) -> None:
        """Index a batch of texts (one unit each) and of sensitive values, each with the number
        of its record."""
        if texts.values:
            self._add_texts(texts)
        if sensitive.values:
            self._add_sensitive(sensitive)

    def _add_texts(self, texts: Values) -> None:
        p = self.params
        part = self.part
        buffer, offsets = fold_many(texts.values)
        part.text_bytes += len(buffer) - (len(texts.values) - 1)
        tokens = tokenize(buffer, kernels=self.kernels)
        first, counts = tokens.pieces(offsets)
        unit_of = np.repeat(np.arange(len(texts.values)), counts)
        part.longest_unit = max(part.longest_unit, int(counts.max(initial=0)))
        with part.units_path.open("ab") as out:
            np.stack([texts.records.astype(np.uint64), counts.astype(np.uint64)],
                     axis=1).astype("<u8").tofile(out)
        position = np.arange(len(tokens), dtype=np.int64) - first[unit_of]
        sampled = np.flatnonzero((position % p.stride == 0)
                                 & (position + p.gram_words <= counts[unit_of]))
        if sampled.size:
            rows = np.empty(sampled.size, dtype=GRAM_ROW)
            rows["fingerprint"] = gram_fingerprints(tokens.hashes, p.gram_words,
                                                    self.key.sip("gram"), ALL_BITS, sampled,
                                                    self.kernels)
            token_checks = siphash13(self.key.sip("token"), tokens.hashes, self.kernels)
            rows["checks"] = _pack_checks(token_checks, sampled, position[sampled],
                                          counts[unit_of[sampled]], p)
            rows["gram"] = np.arange(sampled.size, dtype=np.uint64) + np.uint64(part.grams.rows)
            part.grams.add(rows)
        part.units += len(texts.values)

    def _add_sensitive(self, values: Values) -> None:
        """Each value of enough characters and at most MAX_SENSITIVE_TOKENS words, as the keyed
        hash of its whole word run, all values of a batch hashed together."""
        p = self.params
        buffer, offsets = fold_many(values.values)
        tokens = tokenize(buffer, kernels=self.kernels)
        if len(tokens) == 0:
            return
        first, count = tokens.pieces(offsets)
        has_words = count > 0
        last = np.clip(first + count - 1, 0, len(tokens) - 1)
        # the normalised value's length without its leading and trailing separators
        chars = np.where(has_words, tokens.ends[last]
                         - tokens.starts[np.minimum(first, len(tokens) - 1)], 0)
        kept = np.flatnonzero(has_words & (count <= MAX_SENSITIVE_TOKENS)
                              & (chars >= p.min_sensitive_chars))
        if kept.size == 0:
            return
        whole = np.empty(kept.size, dtype=np.uint64)
        for length in np.unique(count[kept]).tolist():
            group = np.flatnonzero(count[kept] == length)
            whole[group] = gram_hashes_at(tokens.hashes, first[kept[group]], length)
        rows = np.empty(kept.size, dtype=SENSITIVE_ROW)
        rows["value"] = siphash13(self.key.sip("sensitive"), whole, self.kernels)
        rows["record"] = values.records[kept]
        rows["tokens"] = count[kept]
        first_prf = siphash13(self.key.sip("token"), tokens.hashes[first[kept]], self.kernels)
        firsts = np.empty(kept.size, dtype=FIRST_ROW)
        firsts["value"] = (first_prf >> np.uint64(32)) << np.uint64(32)
        self.part.sensitive.add(rows)
        self.part.first.add(firsts)


def _pack_checks(token_checks: U64, sampled: np.ndarray, position: np.ndarray,
                 length: np.ndarray, p: IndexParams) -> U64:
    """Per stored gram, CHECK_BITS keyed bits of each of the `context` tokens before it and
    after it (zero where the record ends; the record length tells which exist)."""
    mask = np.uint64((1 << p.check_bits) - 1)
    packed = np.zeros(sampled.shape[0], dtype=np.uint64)
    slot = 0
    for offset in range(1, p.context + 1):
        for index, present in ((sampled - offset, position - offset >= 0),
                               (sampled + p.gram_words - 1 + offset,
                                position + p.gram_words - 1 + offset < length)):
            safe = np.clip(index, 0, token_checks.shape[0] - 1)
            bits = np.where(present, token_checks[safe] & mask, np.uint64(0))
            packed |= bits << np.uint64(slot * p.check_bits)
            slot += 1
    return packed


def batch_record_ids(batch: RecordBatch, key: IndexKey) -> list[str]:
    """`record_id` of every record of a batch (content is regrouped only when ids are missing)."""
    if all(given is not None for given in batch.ids):
        return cast(list[str], batch.ids)
    return [record_id(record, key) for record in batch.records()]


@dataclass
class _SourceTally:
    """What one source gave beside its records: their fields, and how much text."""

    text_chars: int = 0
    fields: set[str] = field(default_factory=set)


def hash_source(number: int, source: DataSource, key: IndexKey, params: IndexParams,
                folder: Path, memory: int, step: Callable[[int, int], None] | None = None,
                kernels: Kernels = KERNELS, piece: Piece | None = None) -> Part:
    """Read one source (or one piece of it) once, streamed, and hash it into a Part in
    `folder`: its record ids and units in files, its grams and sensitive values in sorted
    runs, never more than under half of `memory` held at once."""
    folder.mkdir(parents=True, exist_ok=True)
    grams, sensitive_values, first_tokens = part_spills(folder, memory)
    part = Part(number, folder, grams, sensitive_values, first_tokens)
    hasher = _Hasher(params, key, part, kernels)
    texts, sensitive = Values(), Values()
    size = counted = 0
    with part.ids_path.open("ab") as ids, part.id_lengths_path.open("ab") as id_lengths:
        for batch in iter_batches(source, piece):
            first = part.records
            encoded = [given.encode("utf-8", errors="surrogatepass")
                       for given in batch_record_ids(batch, key)]
            ids.write(b"".join(encoded))
            np.array([len(given) for given in encoded], dtype="<u8").tofile(id_lengths)
            part.records += len(batch)
            texts.add(batch.texts, batch.text_records + first)
            sensitive.add(batch.sensitive, batch.sensitive_records + first)
            chars = sum(map(len, batch.texts))
            size += chars
            part.tally.text_chars += chars
            part.tally.fields |= batch.fields
            if size >= BATCH_BYTES:
                hasher.add_batch(texts, sensitive)
                if step is not None:
                    step(size, part.records - counted)
                texts, sensitive, size, counted = Values(), Values(), 0, part.records
    hasher.add_batch(texts, sensitive)
    if step is not None:  # the bytes beside the text (JSON, ids, fields) at the end
        step(size + max(0, work_bytes((number, source, piece)) - part.tally.text_chars),
             part.records - counted)
    for spill in (part.grams, part.sensitive, part.first):
        spill.flush()
    return part


def _require_text(number: int, parts: list[Part], source: DataSource,
                  config_path: Path) -> None:
    """A source must give the index text: fields it names must exist in its records, and some
    record must hold text, or the scan would pass every leak of it (`parts`: its pieces)."""
    where = f"data.sources[{number}]"
    records = sum(part.records for part in parts)
    fields = set().union(*(part.tally.fields for part in parts))
    if source.format != "txt":
        for name in ("text_fields", "sensitive_fields"):
            named = getattr(source, name) or ()
            missing = [f for f in named if f not in fields]
            if missing and records:
                raise ConfigError(
                    config_path, f"{where}.{name}",
                    f"{', '.join(map(repr, missing))} is in none of the {records} records "
                    f"of {display_path(source.path)}; name fields the records have")
    if sum(part.tally.text_chars for part in parts) == 0:
        raise ConfigError(
            config_path, where,
            f"none of the {records} records of {display_path(source.path)} holds any "
            "text in its text fields, so nothing of it could be found in the release; check "
            "path, format and text_fields")


def _part_runs(parts: list[Part]) -> list[PartRuns]:
    """The parts with the bases that number their grams and records after those before."""
    described, grams, records = [], 0, 0
    for part in parts:
        described.append(PartRuns(tuple(part.grams.runs), tuple(part.sensitive.runs),
                                  tuple(part.first.runs), grams, records, part.units,
                                  part.records, part.units_path, part.ids_path,
                                  part.id_lengths_path))
        grams += part.grams.rows
        records += part.records
    return described


def _checked_sources(config: Config, key: IndexKey, first: int = 0) -> list[SourceStamp]:
    """The stamps of sources `first` onwards, each checked to be readable and of its
    format."""
    stamps = []
    for number, source in enumerate(config.data.sources):
        if number < first:
            continue
        content = format_mismatch(source)
        if content is not None:
            raise ConfigError(config.path, f"data.sources[{number}].format",
                              f"is {source.format!r} but {display_path(source.path)} holds "
                              f"{content}; set the format the file has")
        try:
            stamps.append(source_stamp(number, source, key))
        except OSError as exc:
            raise UsageError(
                f"data.sources[{number}].path {display_path(source.path)} cannot be read "
                f"({exc.strerror}); run `release index build` where the data lives") from None
    return stamps


def build_index(config: Config, key: IndexKey, *, progress: Progress | None = None,
                config_digest: str = "", kernels: Kernels = KERNELS,
                engine: Engine | None = None) -> IndexMeta:
    """Read every source once, streamed, hash it into sorted runs on disk, then write each
    shard of the index from them: memory stays within `[data].build_memory`. Sources added
    after the last build (the old ones unchanged) are hashed alone and merged with the old
    index's files. The index folder is swapped in whole once every file is written, so an
    interrupted build leaves none that a scan would read."""
    progress = progress or SilentProgress()
    params = IndexParams.for_checks(config.checks.min_match_words,
                                    config.checks.min_sensitive_chars)
    if not config.data.sources:
        raise ConfigError(config.path, "data.sources", "no data sources to index")
    require_replaceable(config.data.index, is_index_folder, config_path=config.path,
                        key="data.index", what="a fingerprint index")
    clean_leftovers(config.data.index)
    previous = _extendable(config, key, params)
    kept = len(previous.meta.sources) if previous is not None else 0
    stamps = [*(previous.meta.sources if previous is not None else []),
              *_checked_sources(config, key, first=kept)]
    memory = config.data.build_memory
    engine = engine or LocalEngine()
    with building_folder(config.data.index) as built:
        spill = built / "spill"
        work = [(n, source, piece) for n, source in enumerate(config.data.sources) if n >= kept
                for piece in (source_pieces(source, engine.piece_bytes) if engine.piece_bytes
                              else [None])]
        with progress.task("Indexing training data", sum(map(work_bytes, work)),
                           items="records") as task:
            parts = engine.hash_sources(work, key, params, spill, memory, task.advance, kernels)
        for number, source in enumerate(config.data.sources[kept:], start=kept):
            _require_text(number, [p for p in parts if p.number == number], source,
                          config.path)
        if previous is not None:
            from release.fingerprint.merge import part_from_index

            parts.insert(0, part_from_index(0, previous, spill / "previous", memory))
        meta = write_index(built, parts, params, key, stamps, memory, config_digest,
                           engine, progress, kernels, fingerprint_bits=None if previous is None
                           else previous.meta.params.fingerprint_bits)
        replace_folder(built, config.data.index)
    return meta


def _extendable(config: Config, key: IndexKey, params: IndexParams) -> LoadedIndex | None:
    """The index already built, when the config only adds sources after those it holds (each
    of them as it was: same path, size and time) and the key and guarantee are the same."""
    from release.fingerprint.index import load_index

    try:
        meta = read_meta(config.data.index)
    except InputError:
        return None
    sources = config.data.sources
    if (meta.key_id != key.key_id or meta.layout is None or meta.params.min_match_words !=
            params.min_match_words or meta.params.min_sensitive_chars !=
            params.min_sensitive_chars or not 0 < len(meta.sources) < len(sources)):
        return None
    try:
        for number, stamp in enumerate(meta.sources):
            source = sources[number]
            if (str(source.path) != stamp.path or source.path.stat().st_size != stamp.size
                    or source_mtime(source) != stamp.mtime_ns):
                return None
        return load_index(config.data.index, key)
    except (OSError, InputError):
        return None


def write_index(built: Path, parts: list[Part], params: IndexParams, key: IndexKey,
                stamps: list[SourceStamp], memory: int, config_digest: str, engine: Engine,
                progress: Progress, kernels: Kernels = KERNELS,
                fingerprint_bits: int | None = None) -> IndexMeta:
    """Every file of the index in `built` from the hashed parts, the metadata last; with
    `fingerprint_bits` (what a merged index kept), no more bits than that."""
    spill = built / "spill"
    described = _part_runs(parts)
    grams = sum(part.grams.rows for part in parts)
    bits = fingerprint_bits_for(grams)
    params = replace(params, fingerprint_bits=min(bits, fingerprint_bits or bits))
    layout = plan_layout(params, grams, sum(p.units for p in parts),
                         sum(p.records for p in parts),
                         max((p.longest_unit for p in parts), default=0), memory)
    with progress.task("Writing index shards", 1 << layout.shard_bits, unit="shards") as task:
        counts = engine.write_shards(built, params, layout, described, task.advance)
    layout = replace(layout, shard_grams=tuple(counts))
    write_gram_bitmap(built, params, layout, kernels)
    write_tables(built, described, params, layout)
    sensitive, first_bits = write_sensitive(built, described, layout, memory, kernels)
    layout = replace(layout, first_bitmap_bits=first_bits)
    shutil.rmtree(spill, ignore_errors=True)
    meta = IndexMeta(
        params=params, key_id=key.key_id, sources=stamps, layout=layout,
        records=sum(p.records for p in parts), units=sum(p.units for p in parts),
        grams=grams, sensitive=sensitive,
        text_bytes=sum(p.text_bytes for p in parts), config_digest=config_digest,
        created=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())
    (built / "meta.json").write_text(meta.to_json(), encoding="utf-8")
    return meta


def merge_indexes(paths: list[Path], target: Path, key: IndexKey, *, memory: int,
                  config_digest: str = "", progress: Progress | None = None) -> IndexMeta:
    """`release index merge`: one index holding every record of `paths`, in their order,
    written to `target` (a new folder, or an index release wrote)."""
    from release.fingerprint.index import load_index
    from release.fingerprint.merge import mergeable, merged_bits, part_from_index, read_metas

    progress = progress or SilentProgress()
    metas = read_metas(paths)
    mergeable(metas)
    for path, _ in metas:
        if path.resolve() == target.resolve():
            raise UsageError("is one of the indexes merged; write the merged index to a new "
                             "folder", path=target)
    if (target.exists() or target.is_symlink()) and (target.is_symlink()
                                                     or not is_index_folder(target)):
        raise UsageError("already exists and is not a fingerprint index written by release; "
                         "release replaces only what it wrote itself: choose another path",
                         path=target)
    indexes = [load_index(path, key) for path in paths]
    stamps = [SourceStamp(f"data.sources[{number}]", *astuple(stamp)[1:])
              for number, stamp in enumerate(s for index in indexes
                                             for s in index.meta.sources)]
    with building_folder(target) as built:
        parts = [part_from_index(number, index, built / "spill" / f"part-{number:05d}", memory)
                 for number, index in enumerate(indexes)]
        meta = write_index(built, parts, indexes[0].meta.params, key, stamps, memory,
                           config_digest, LocalEngine(), progress,
                           fingerprint_bits=merged_bits([m for _, m in metas]))
        replace_folder(built, target)
    return meta
