"""What a report says besides its findings and files: typed blocks the renderers and the card read
by attribute, each serialised under its key of the JSON report."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from release.publish.plan import PublishPlan, PublishRecord


@dataclass(frozen=True)
class ReleaseInfo:
    name: str
    version: str


@dataclass(frozen=True)
class ConfigInfo:
    """The config file a report was made from: its name and sha256, and its folder relative
    to the root of the git repository holding it ("" at the root or outside any), which code
    scanning's paths are relative to."""

    path: str
    sha256: str
    folder: str = ""


@dataclass(frozen=True)
class GitState:
    """The commit and branch the code shipped from. `dirty` is the shipped paths that differ
    from the commit (a scan), or whether any did (a staged release, from its manifest)."""

    commit: str | None
    branch: str | None
    dirty: tuple[str, ...] | bool

    def to_dict(self) -> dict[str, object]:
        return {"commit": self.commit, "branch": self.branch,
                "dirty": self.dirty if isinstance(self.dirty, bool) else list(self.dirty)}


@dataclass(frozen=True)
class LeftOutFiles:
    """Files of the model folder that do not ship: training state (checkpoints, optimizer and
    RNG state, Trainer arguments, logs) and those [model].include/exclude leave out."""

    training_state: tuple[str, ...] = ()
    by_config: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"training_state": list(self.training_state), "by_config": list(self.by_config)}

    def groups(self) -> list[str]:
        """The training state as a user names it: each top folder once (`checkpoint-500/`),
        then the files at the top by name."""
        groups = {path.partition("/")[0] + "/" if "/" in path else path
                  for path in self.training_state}
        return sorted(groups, key=lambda g: (not g.endswith("/"), g))


@dataclass(frozen=True)
class Licensing:
    """What each component ships under, and the licence texts attached."""

    model: str | None
    code: str | None
    docs: str | None
    attached: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"model": self.model, "code": self.code, "docs": self.docs,
                "attached": list(self.attached)}


@dataclass(frozen=True)
class AgreementDates:
    """Where the release date falls in the agreement's term, and when the data must go."""

    release_date: dt.date
    term_end: dt.date
    survival_window_end: dt.date
    in_survival_window: bool
    data_deletion_deadline: dt.date
    days_until_data_deletion: int
    agreement: str = "DUA-OAI"  # its type, and the version of its text the parties signed
    version: str | None = None
    effective_date: dt.date | None = None

    def to_dict(self) -> dict[str, object]:
        return {name: value.isoformat() if isinstance(value, dt.date) else value
                for name, value in asdict(self).items()}


def _rounded(block: RankedSample | CanaryExposure, **places: int) -> dict[str, object]:
    """A flat block's fields, the named floats rounded to so many places."""
    data: dict[str, object] = asdict(block)
    for name, digits in places.items():
        data[name] = round(getattr(block, name), digits)
    return data


@dataclass(frozen=True)
class RankedSample:
    """A free generation among the likeliest to be memorised: where it came from and its
    scores (never its text), so a reviewer where the data may be seen can draw it again."""

    sample: int
    prompt: int
    batch_seed: int
    tokens: int
    perplexity: float
    zlib_bytes: int
    zlib_ratio: float
    hit: bool  # it holds training text or a sensitive value

    def to_dict(self) -> dict[str, object]:
        return _rounded(self, perplexity=4, zlib_ratio=6)


@dataclass(frozen=True)
class UntargetedSummary:
    """The untargeted extraction: how much was sampled, and how much of it was training data."""

    samples: int
    tokens: int
    max_new_tokens: int
    prompts: int
    top_k: int
    temperature: float
    seed: int
    batch_size: int
    hits: int  # samples holding training text or a sensitive value
    rate: float
    records: int  # distinct training records the hits came from
    text_hits: int
    sensitive_hits: int
    top: tuple[RankedSample, ...] = ()  # ranked by perplexity/zlib, likeliest first

    def describe(self) -> str:
        return (f"free generations: {self.hits} of {self.samples} hold training data (rate "
                f"{self.rate}, {self.records} records; {self.tokens} tokens, seed {self.seed})")

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["top"] = [r.to_dict() for r in self.top]
        return data


@dataclass(frozen=True)
class CanaryExposure:
    """A canary's exposure in bits: its id, the format it matched (1-based), how it was
    reached, and what it was ranked among. No canary text."""

    canary: str
    format: int
    exposure: float
    space_bits: float
    candidates: int
    below: int  # candidates the model found likelier than the canary
    method: str  # "exact", "sampled" or "extrapolated"

    def to_dict(self) -> dict[str, object]:
        return _rounded(self, exposure=3, space_bits=3)


@dataclass(frozen=True)
class MemorizationSummary:
    """The memorisation audit's numbers, or why it did not run (`audited` false, `reason`)."""

    audited: bool
    reason: str | None = None
    samples: int = 0
    canaries: int = 0
    named_records: int = 0
    population: int = 0  # distinct training records (a record several sources hold, once)
    population_exact: bool = True
    too_short: int = 0
    extractable: int = 0  # of the sampled records (the rate's numerator)
    extractable_named: int = 0  # of [checks.memorization].records
    extractable_canaries: int = 0
    extractable_total: int = 0
    rate: float = 0.0
    max_extractable_rate: float = 0.0
    prefix_tokens: int = 0
    suffix_tokens: int = 0
    matched_length_histogram: tuple[int, ...] = ()
    rechecked_with_generate: int = 0
    epsilon: float = 0.0
    membership_auc: float | None = None
    holdout: int = 0
    parameters: int = 0
    device: str = ""
    dtype: str = ""
    untargeted: UntargetedSummary | None = None  # None: not run (samples = 0)
    exposures: tuple[CanaryExposure, ...] = ()
    max_exposure: float = 0.0
    plot: str | None = None  # the staged PNG of the histogram and the ranking
    plot_skipped: str | None = None  # why there is no plot

    def describe_exposures(self) -> str | None:
        if not self.exposures:
            return None
        above = sum(1 for e in self.exposures if e.exposure > self.max_exposure)
        highest = max(e.exposure for e in self.exposures)
        return (f"canary exposure: highest {highest:.1f} bits of {len(self.exposures)} "
                f"canaries (limit {self.max_exposure:g}), {above} above")

    @classmethod
    def not_audited(cls, reason: str) -> MemorizationSummary:
        return cls(audited=False, reason=reason)

    def to_dict(self) -> dict[str, object]:
        if not self.audited:
            return {"audited": False, "reason": self.reason}
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "reason"}
        data["matched_length_histogram"] = list(self.matched_length_histogram)
        data["untargeted"] = self.untargeted.to_dict() if self.untargeted else None
        data["exposures"] = [e.to_dict() for e in self.exposures]
        return data


@dataclass(frozen=True)
class StagedInfo:
    """The staged folder a report belongs to: its name, how many shipped files it holds, and
    the files release wrote into it (the card, the licensing), which no scan saw as files."""

    path: str
    files: int
    generated: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"path": self.path, "files": self.files}
        if self.generated:
            data["generated"] = list(self.generated)
        return data


@dataclass(frozen=True)
class PublishInfo:
    """A publish: where to, whether it was a dry run, its plan and what happened."""

    target: str
    dry_run: bool
    plan: PublishPlan | None = None
    record: PublishRecord | None = None

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"target": self.target, "dry_run": self.dry_run}
        if self.plan is not None:
            data["plan"] = self.plan.to_dict()
        if self.record is not None:
            data["record"] = self.record.to_dict()
        return data


@dataclass(frozen=True)
class ReportContext:
    """Every block a report may carry; a command fills the ones it knows."""

    release: ReleaseInfo | None = None
    config: ConfigInfo | None = None
    git: GitState | None = None
    left_out: LeftOutFiles | None = None
    licenses: Licensing | None = None
    agreement: AgreementDates | None = None
    memorization: MemorizationSummary | None = None
    staged: StagedInfo | None = None
    publish: PublishInfo | None = None

    def _order(self) -> list[str]:
        """The JSON keys in order: a report about a staged folder (check, publish: no config)
        names the folder right after the release; one that staged it, at the end."""
        names = [f.name for f in fields(self)]
        if self.config is None:
            names.remove("staged")
            names.insert(names.index("release") + 1, "staged")
        return names

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {}
        for name in self._order():
            block = getattr(self, name)
            if block is not None:
                data[name] = block.to_dict() if hasattr(block, "to_dict") else asdict(block)
        return data
