"""Combines indexes built under one key and guarantee (a second delivery of data indexed on
its own, then merged): their files are read back as hashed parts, never their sources."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from release.errors import UsageError
from release.fingerprint.build import Part
from release.fingerprint.index import CHUNK_ROWS, IndexMeta, LoadedIndex, read_meta, shard_values
from release.fingerprint.kernels.reference import widened
from release.fingerprint.spill import FIRST_ROW, GRAM_ROW, SENSITIVE_ROW, part_spills


def mergeable(metas: list[tuple[Path, IndexMeta]]) -> None:
    """Indexes merge only under one key and one guarantee; say which differs."""
    (first_path, first), *others = metas
    wanted = {k: v for k, v in asdict(first.params).items() if k != "fingerprint_bits"}
    for path, meta in others:
        if meta.key_id != first.key_id:
            raise UsageError(f"was built with another key than {first_path}; indexes merge "
                             "only under the same key", path=path)
        found = {k: v for k, v in asdict(meta.params).items() if k != "fingerprint_bits"}
        if found != wanted:
            differ = ", ".join(sorted(k for k in wanted if wanted[k] != found[k]))
            raise UsageError(f"was built for another guarantee than {first_path} ({differ}); "
                             "rebuild one with the same [checks]", path=path)


def part_from_index(number: int, index: LoadedIndex, folder: Path, memory: int) -> Part:
    """An index's grams, units, records and sensitive values, spilled as the hashing of its
    sources would have (fingerprints keep the bits the index stored, at the top)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta, layout = index.meta, index.layout
    grams, sensitive, first = part_spills(folder, memory)
    part = Part(number, folder, grams, sensitive, first, records=meta.records,
                units=meta.units, text_bytes=meta.text_bytes)
    bits = meta.params.fingerprint_bits
    residual_bits = bits - layout.shard_bits
    for shard_number, shard in enumerate(index.shards):
        for start in range(0, shard.fingerprints.shape[0], CHUNK_ROWS):
            end = start + CHUNK_ROWS
            top = shard_values(shard.fingerprints, shard.directory, shard.shift, start, end)
            if layout.shard_bits:
                top |= np.uint64(shard_number) << np.uint64(residual_bits)
            rows = np.empty(top.shape[0], dtype=GRAM_ROW)
            rows["fingerprint"] = top << np.uint64(64 - bits) if bits < 64 else top
            rows["checks"] = widened(np.asarray(shard.checks[start:end]))
            rows["gram"] = widened(np.asarray(shard.grams[start:end]))
            grams.add(rows)
    for start in range(0, meta.sensitive, CHUNK_ROWS):
        end = start + CHUNK_ROWS
        rows = np.empty(min(end, meta.sensitive) - start, dtype=SENSITIVE_ROW)
        rows["value"] = index.sensitive.values[start:end]
        rows["record"] = index.sensitive_units[start:end, 0]
        rows["tokens"] = index.sensitive_units[start:end, 1]
        sensitive.add(rows)
    firsts = np.empty(index.sensitive_first.values.shape[0], dtype=FIRST_ROW)
    firsts["value"] = np.asarray(index.sensitive_first.values, dtype=np.uint64) << np.uint64(32)
    first.add(firsts)
    with part.units_path.open("wb") as out:
        for start in range(0, meta.units, CHUNK_ROWS):
            chunk = np.stack([index.unit_record[start: start + CHUNK_ROWS],
                              index.unit_length[start: start + CHUNK_ROWS]], axis=1)
            chunk.astype("<u8").tofile(out)
            part.longest_unit = max(part.longest_unit, int(chunk[:, 1].max(initial=0)))
    np.diff(np.asarray(index.record_offsets, dtype="<u8")).astype("<u8").tofile(
        part.id_lengths_path)
    with part.ids_path.open("wb") as out:
        for start in range(0, index.record_blob.shape[0], CHUNK_ROWS * 16):
            out.write(bytes(index.record_blob[start: start + CHUNK_ROWS * 16]))
    for spill in (grams, sensitive, first):
        spill.flush()
    return part


def merged_bits(metas: list[IndexMeta]) -> int:
    """The fingerprint bits of a merged index: those every input kept (fewer bits only let
    more candidates through to the check bits; none is lost)."""
    return min(meta.params.fingerprint_bits for meta in metas)


def read_metas(paths: list[Path]) -> list[tuple[Path, IndexMeta]]:
    return [(path, read_meta(path)) for path in paths]
