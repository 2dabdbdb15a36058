"""Where an index build's work runs: in this process, or as tasks on a Dask cluster (a
`LocalCluster` by default); both run the same functions, so both write the same index."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from release.config import DataSource
from release.errors import UsageError
from release.fingerprint.assemble import PartRuns, run_list, write_shard
from release.fingerprint.index import IndexParams, Layout
from release.fingerprint.kernels import KERNELS, Kernels
from release.fingerprint.keys import IndexKey

if TYPE_CHECKING:
    from release.fingerprint.build import Part
    from release.sources import Piece

Step = Callable[[int, int], None]  # (bytes, records) more done
Work = tuple[int, DataSource, "Piece | None"]  # a source's number, the source, one piece of it
PIECE_BYTES = 64 << 20  # what one Dask task reads of a source that can be cut


def _folder(folder: Path, slot: int, number: int) -> Path:
    return folder / f"part-{number:05d}-{slot:05d}"


def work_bytes(work: Work) -> int:
    """Bytes of the files (or of the piece) one task reads."""
    from release.sources import source_files

    _, source, piece = work
    return piece.size if piece is not None else \
        sum(path.stat().st_size for path in source_files(source))


class Engine(Protocol):
    piece_bytes: int  # 0: every source read whole, by one task

    def hash_sources(self, work: Sequence[Work], key: IndexKey, params: IndexParams,
                     folder: Path, memory: int, step: Step, kernels: Kernels = KERNELS
                     ) -> list[Part]:
        """Hash each source (or piece) into a Part under `folder`, in their order."""
        ...

    def write_shards(self, folder: Path, params: IndexParams, layout: Layout,
                     parts: Sequence[PartRuns], step: Step) -> list[int]:
        """Write every shard; how many grams each holds."""
        ...


class LocalEngine:
    """Every step in this process, one after the other."""

    piece_bytes = 0

    def hash_sources(self, work: Sequence[Work], key: IndexKey, params: IndexParams,
                     folder: Path, memory: int, step: Step, kernels: Kernels = KERNELS
                     ) -> list[Part]:
        from release.fingerprint.build import hash_source

        return [hash_source(number, source, key, params, _folder(folder, slot, number), memory,
                            step, kernels, piece)
                for slot, (number, source, piece) in enumerate(work)]

    def write_shards(self, folder: Path, params: IndexParams, layout: Layout,
                     parts: Sequence[PartRuns], step: Step) -> list[int]:
        runs = run_list(parts, "grams")
        counts = []
        for number in range(1 << layout.shard_bits):
            counts.append(write_shard(folder, number, params, layout, runs))
            step(1, 0)
        return counts


def _hash_task(work: Work, key: IndexKey, params: IndexParams, folder: Path,
               memory: int) -> Part:
    from release.fingerprint.build import hash_source

    number, source, piece = work
    return hash_source(number, source, key, params, folder, memory, piece=piece)


class DaskEngine:
    """Sources hashed as tasks on a Dask cluster (a task for each piece of a source: line
    ranges of JSON Lines, row groups of Parquet, files of a dataset), then one task a
    shard; the driver writes the tables and the metadata last. The spill folder must be one
    the workers share with the driver (this machine, or a shared file system). On a
    `LocalCluster` the build memory is shared out among its workers; a worker of a remote
    cluster may use all of it."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 piece_bytes: int = PIECE_BYTES) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("--engine dask needs Dask: pip install 'release[distributed]'") \
                from None
        self.piece_bytes = piece_bytes
        self._cluster = None
        self._sharing = 1
        if scheduler:
            self.client = Client(scheduler, timeout="60s")
        else:
            self._sharing = workers or 2
            self._cluster = LocalCluster(n_workers=self._sharing, threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            self.client = Client(self._cluster)

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def hash_sources(self, work: Sequence[Work], key: IndexKey, params: IndexParams,
                     folder: Path, memory: int, step: Step, kernels: Kernels = KERNELS
                     ) -> list[Part]:
        from dask.distributed import as_completed

        from release.config.settings import MIN_BUILD_MEMORY

        share = max(MIN_BUILD_MEMORY, memory // self._sharing)
        futures = [self.client.submit(_hash_task, item, key, params,
                                      _folder(folder, slot, item[0]), share, pure=False)
                   for slot, item in enumerate(work)]
        sizes = {future.key: work_bytes(item) for future, item in zip(futures, work, strict=True)}
        for future in as_completed(futures):
            part = future.result()  # raises a task's error here
            step(sizes[future.key], part.records)
        return [future.result() for future in futures]

    def write_shards(self, folder: Path, params: IndexParams, layout: Layout,
                     parts: Sequence[PartRuns], step: Step) -> list[int]:
        from dask.distributed import as_completed

        runs = self.client.scatter(run_list(parts, "grams"), broadcast=True)
        futures = [self.client.submit(write_shard, folder, number, params, layout, runs,
                                      pure=False)
                   for number in range(1 << layout.shard_bits)]
        for future in as_completed(futures):
            future.result()
            step(1, 0)
        return [int(future.result()) for future in futures]
