"""The configuration as frozen dataclasses: one per `release.toml` section, defaults given once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from release.config.lines import key_line
from release.remote import SourcePath

DEFAULT_CONFIG_NAME = "release.toml"
DEFAULT_BASELINE_NAME = "release.baseline.json"
REPORT_SUFFIX = ".report.json"  # dist/<name>-<version>.report.json
SOURCE_FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "txt", "hf-dataset")
SEVERITY_NAMES = ("error", "warning")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "bfloat16", "float16")
# [checks] ranges: a guarantee under 8 words reports common phrases, one over 64 words cannot be
# confirmed by the index's check bits; values shorter than 4 characters are common words, and
# none longer than 256 is a name, an email or a record number
MATCH_WORDS = (8, 64)
SENSITIVE_CHARS = (4, 256)


@dataclass(frozen=True)
class ReleaseSettings:
    name: str
    version: str
    out: Path
    copyright: str | None = None  # holder named in REUSE.toml and NOTICE
    license_texts: Path | None = None  # folder with texts of licences the tool does not ship

    @property
    def slug(self) -> str:
        """The release name as one path component (`org/model` becomes `org--model`)."""
        return self.name.replace("/", "--")

    @property
    def staged_name(self) -> str:
        return f"{self.slug}-{self.version}"


@dataclass(frozen=True)
class BaseModel:
    name: str
    license: str | None
    source: str | None


@dataclass(frozen=True)
class ModelSettings:
    path: Path
    license: str | None
    base_model: BaseModel | None
    include: tuple[str, ...] = ()  # globs; default: every file but training state
    exclude: tuple[str, ...] = ()
    tokenizer_from_data: bool | None = None  # the tokenizer was trained on the confidential data


@dataclass(frozen=True)
class CodeSettings:
    path: Path
    license: str | None
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    dest: str


@dataclass(frozen=True)
class DataSource:
    path: SourcePath  # a local file or folder, or one at an fsspec URL
    format: str
    id_field: str | None
    text_fields: tuple[str, ...] | None  # None (not set): every field but the id is text
    sensitive_fields: tuple[str, ...]
    record: str  # "line" or "file", for txt sources


DEFAULT_BUILD_MEMORY = 2 << 30
MIN_BUILD_MEMORY = 4 << 20
ENGINES = ("local", "dask")


@dataclass(frozen=True)
class DataSettings:
    index: Path
    key_file: Path  # default: the index path with ".key" appended
    sources: tuple[DataSource, ...]
    build_memory: int = DEFAULT_BUILD_MEMORY  # bytes an index build may hold
    engine: str = "local"  # "local" (this process) or "dask"
    scheduler: str | None = None  # a Dask scheduler address; default: a LocalCluster


@dataclass(frozen=True)
class DifferentialPrivacy:
    epsilon: float
    delta: float | None


@dataclass(frozen=True)
class PrivacySettings:
    pseudonymization: bool | None = None
    aggregation: bool | None = None
    no_human_inspection: bool | None = None
    differential_privacy: DifferentialPrivacy | None = None
    trusted_execution: str | None = None


@dataclass(frozen=True)
class AgreementSettings:
    type: str = "DUA-OAI"
    version: str | None = None  # of the agreement text the parties signed
    data_provider: str | None = None
    data_user: str | None = None
    effective_date: dt.date | None = None
    term_end: dt.date | None = None
    survival_days: int = 0  # after term_end, the publication obligation may still be performed
    deletion_days: int = 0  # after term_end, the data must be deleted by then
    release_url: str | None = None
    data_description: str | None = None
    data_limitations: str | None = None
    personal_data: bool | None = None
    provider_disclaimer: str | None = None
    privacy: PrivacySettings = field(default_factory=PrivacySettings)


@dataclass(frozen=True)
class GenerationSettings:
    """Untargeted extraction: free samples of the model, scanned against the index."""

    samples: int = 256  # 0: not run
    max_new_tokens: int = 256
    top_k: int = 40
    temperature: float = 1.0
    prompts: Path | None = None  # one prompt per line; default: the empty prompt and openings
    seed: int = 0
    batch_size: int = 32


@dataclass(frozen=True)
class MemorizationSettings:
    samples: int = 1000
    prefix_tokens: int = 32
    suffix_tokens: int = 32
    max_extractable_rate: float = 0.0
    seed: int = 0
    epsilon: float = 0.01  # logit margin under which a verdict is re-checked with generate
    batch_size: int = 32
    device: str = "auto"
    dtype: str = "float32"
    canaries: Path | None = None  # strings planted in training, one per line, always audited
    records: tuple[str, ...] = ()  # ids of records always audited
    holdout: DataSource | None = None  # records never trained on, for membership inference
    canary_formats: tuple[str, ...] = ()  # canaries matching one are measured for exposure
    max_exposure: float = 10.0  # bits; a canary above it fails the gate
    exposure_candidates: int = 2_000  # random strings of its format a canary is ranked among
    generate: GenerationSettings = field(default_factory=GenerationSettings)


@dataclass(frozen=True)
class CheckSettings:
    fail_on: str = "error"
    min_match_words: int = 12
    min_sensitive_chars: int = 6
    baseline: Path | None = None
    secrets: bool = True  # look for credentials in every shipped byte
    memorization: MemorizationSettings = field(default_factory=MemorizationSettings)


@dataclass(frozen=True)
class CardSettings:
    license: str = "CC-BY-4.0"  # the model card and other generated documents
    template: str = "default"
    language: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    tags: tuple[str, ...] = ()
    eval_results: Path | None = None  # a JSON object of metric name -> number


@dataclass(frozen=True)
class GitPublishSettings:
    remote: str
    branch: str = "release"
    tag: str = "v{version}"
    lfs: tuple[str, ...] = ("*.safetensors", "*.bin", "*.gguf", "*.onnx")
    lfs_threshold_mb: float = 10.0
    timeout: float = 60.0  # seconds a transfer may stall before the push fails


@dataclass(frozen=True)
class HubPublishSettings:
    repo_id: str
    private: bool = True
    revision: str = "main"
    create_pr: bool = False
    tag: str = "v{version}"
    endpoint: str | None = None
    timeout: float = 60.0  # seconds any request may wait for the Hub before it fails


SIGN_METHODS = ("key", "certificate", "sigstore")


@dataclass(frozen=True)
class SignSettings:
    """Signing the staged release (OpenSSF Model Signing): an elliptic-curve key, a key with
    its certificate and chain, or keyless Sigstore (an OIDC identity, in CI)."""

    method: str
    private_key: Path | None = None  # PEM; key and certificate
    password_env: str | None = None  # the environment variable holding the key's password
    certificate: Path | None = None  # the signing certificate (certificate)
    certificate_chain: tuple[Path, ...] = ()  # intermediates and root (certificate)


@dataclass(frozen=True)
class Config:
    """The whole configuration; `path` is the file it came from, `digest` its sha256."""

    path: Path
    digest: str
    release: ReleaseSettings
    model: ModelSettings
    code: CodeSettings | None
    data: DataSettings
    agreement: AgreementSettings
    checks: CheckSettings
    card: CardSettings
    publish_git: GitPublishSettings | None
    publish_hub: HubPublishSettings | None
    sign: SignSettings | None = None  # None: releases are not signed
    key_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    placeholders: tuple[str, ...] = ()  # keys still holding init's "TODO" (read as unset)

    def line_of(self, key: str) -> int | None:
        """The line of the config file where `key` (`agreement.term_end`), or the nearest
        table above it that is written, is set."""
        return key_line(self.key_lines, key)

    @property
    def root(self) -> Path:
        """The folder relative paths in the config are resolved against."""
        return self.path.parent

    @property
    def staged_dir(self) -> Path:
        return self.release.out / self.release.staged_name

    @property
    def report_path(self) -> Path:
        """The report of this version, beside its staged folder: preparing another version
        never replaces it."""
        return self.release.out / f"{self.release.staged_name}{REPORT_SUFFIX}"
