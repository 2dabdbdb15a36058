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

Step = Callable[[int], None]


class Engine(Protocol):
    def hash_sources(self, sources: Sequence[tuple[int, DataSource]], key: IndexKey,
                     params: IndexParams, folder: Path, memory: int, step: Step,
                     kernels: Kernels = KERNELS) -> list[Part]:
        """Hash each source into a Part under `folder`, in source order."""
        ...

    def write_shards(self, folder: Path, params: IndexParams, layout: Layout,
                     parts: Sequence[PartRuns], step: Step) -> list[int]:
        """Write every shard; how many grams each holds."""
        ...


class LocalEngine:
    """Every step in this process, one after the other."""

    def hash_sources(self, sources: Sequence[tuple[int, DataSource]], key: IndexKey,
                     params: IndexParams, folder: Path, memory: int, step: Step,
                     kernels: Kernels = KERNELS) -> list[Part]:
        from release.fingerprint.build import hash_source

        return [hash_source(number, source, key, params, folder / f"part-{number:05d}", memory,
                            step, kernels) for number, source in sources]

    def write_shards(self, folder: Path, params: IndexParams, layout: Layout,
                     parts: Sequence[PartRuns], step: Step) -> list[int]:
        runs = run_list(parts, "grams")
        counts = []
        for number in range(1 << layout.shard_bits):
            counts.append(write_shard(folder, number, params, layout, runs))
            step(1)
        return counts


def _hash_task(number: int, source: DataSource, key: IndexKey, params: IndexParams,
               folder: Path, memory: int) -> Part:
    from release.fingerprint.build import hash_source

    return hash_source(number, source, key, params, folder, memory)


class DaskEngine:
    """Sources hashed as tasks on a Dask cluster (one task a source), then one task a shard;
    the driver writes the tables and the metadata last. The spill folder must be one the
    workers share with the driver (this machine, or a shared file system)."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("--engine dask needs Dask: pip install 'release[distributed]'") \
                from None
        self._cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="60s")
        else:
            self._cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1,
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

    def hash_sources(self, sources: Sequence[tuple[int, DataSource]], key: IndexKey,
                     params: IndexParams, folder: Path, memory: int, step: Step,
                     kernels: Kernels = KERNELS) -> list[Part]:
        from dask.distributed import as_completed

        futures = [self.client.submit(_hash_task, number, source, key, params,
                                      folder / f"part-{number:05d}", memory, pure=False)
                   for number, source in sources]
        sizes = {future.key: source.path.stat().st_size
                 for future, (_, source) in zip(futures, sources, strict=True)}
        for future in as_completed(futures):
            future.result()  # raises a task's error here
            step(sizes[future.key])
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
            step(1)
        return [int(future.result()) for future in futures]
