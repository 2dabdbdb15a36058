"""`release.toml` parsed once into frozen dataclasses; errors name the file and dotted key."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from release.errors import ConfigError

DEFAULT_CONFIG_NAME = "release.toml"
DEFAULT_BASELINE_NAME = "release.baseline.json"
SOURCE_FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "txt", "hf-dataset")
SEVERITY_NAMES = ("error", "warning")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "bfloat16", "float16")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]*$")

T = TypeVar("T")
_REQUIRED: Any = object()


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


@dataclass(frozen=True)
class CodeSettings:
    path: Path
    license: str | None
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    dest: str


@dataclass(frozen=True)
class DataSource:
    path: Path
    format: str
    id_field: str | None
    text_fields: tuple[str, ...]
    sensitive_fields: tuple[str, ...]
    record: str  # "line" or "file", for txt sources


@dataclass(frozen=True)
class DataSettings:
    index: Path
    key_file: Path  # default: the index path with ".key" appended
    sources: tuple[DataSource, ...]


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


@dataclass(frozen=True)
class CheckSettings:
    fail_on: str = "error"
    min_match_words: int = 12
    min_sensitive_chars: int = 6
    baseline: Path | None = None
    memorization: MemorizationSettings = field(default_factory=MemorizationSettings)


@dataclass(frozen=True)
class CardSettings:
    license: str = "CC-BY-4.0"  # the model card and other generated documents
    template: str = "default"
    language: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class GitPublishSettings:
    remote: str
    branch: str = "release"
    tag: str = "v{version}"
    lfs: tuple[str, ...] = ()
    lfs_threshold_mb: float = 10.0


@dataclass(frozen=True)
class HubPublishSettings:
    repo_id: str
    private: bool = True
    revision: str = "main"
    create_pr: bool = False
    tag: str = "v{version}"
    endpoint: str | None = None


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

    @property
    def root(self) -> Path:
        """The folder relative paths in the config are resolved against."""
        return self.path.parent

    @property
    def staged_dir(self) -> Path:
        return self.release.out / self.release.staged_name

    @property
    def report_path(self) -> Path:
        return self.release.out / "release-report.json"


class _Table:
    """One TOML table being read: typed getters, and an error for every key nobody read."""

    def __init__(self, file: Path, dotted: str, data: dict[str, Any]) -> None:
        self.file = file
        self.dotted = dotted
        self.data = data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.dotted}.{name}" if self.dotted else name

    def error(self, name: str | None, message: str) -> ConfigError:
        return ConfigError(self.file, self.key(name) if name else self.dotted or None, message)

    def _get(self, name: str, default: Any, check: Callable[[Any], bool], want: str) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is _REQUIRED:
                raise self.error(name, "is required")
            return default
        value = self.data[name]
        if not check(value):
            raise self.error(name, f"expected {want}, got {_type_name(value)}")
        return value

    def text(self, name: str, default: Any = _REQUIRED, *, nonempty: bool = True) -> Any:
        value = self._get(name, default, lambda v: isinstance(v, str), "a string")
        if nonempty and isinstance(value, str) and not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def flag(self, name: str, default: Any = _REQUIRED) -> Any:
        return self._get(name, default, lambda v: isinstance(v, bool), "true or false")

    def integer(self, name: str, default: Any = _REQUIRED, *, minimum: int | None = None) -> Any:
        value = self._get(
            name, default, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
        )
        if minimum is not None and isinstance(value, int) and value < minimum:
            raise self.error(name, f"must be at least {minimum}, got {value}")
        return value

    def number(self, name: str, default: Any = _REQUIRED) -> Any:
        value = self._get(
            name,
            default,
            lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "a number",
        )
        return float(value) if value is not None else None

    def day(self, name: str, default: Any = _REQUIRED) -> Any:
        return self._get(
            name,
            default,
            lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
            "a date (YYYY-MM-DD, unquoted)",
        )

    def strings(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(
            name,
            default,
            lambda v: isinstance(v, list | tuple) and all(isinstance(i, str) for i in v),
            "a list of strings",
        )
        return tuple(value)

    def choice(self, name: str, choices: tuple[str, ...], default: Any = _REQUIRED) -> Any:
        value = self.text(name, default)
        if value is not None and value not in choices:
            raise self.error(name, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def path(self, name: str, default: Any = _REQUIRED) -> Any:
        value = self.text(name, default)
        if value is None or isinstance(value, Path):
            return value
        return (self.file.parent / Path(value).expanduser()).absolute()

    def table(self, name: str, *, required: bool = False) -> _Table | None:
        self.seen.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, "section is required")
            return None
        value = self.data[name]
        if not isinstance(value, dict):
            raise self.error(name, f"expected a table, got {_type_name(value)}")
        return _Table(self.file, self.key(name), value)

    def tables(self, name: str) -> list[_Table]:
        self.seen.add(name)
        value = self.data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(name, f"expected an array of tables ([[{self.key(name)}]])")
        return [_Table(self.file, f"{self.key(name)}[{i}]", v) for i, v in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            where = self.key(unknown[0])
            raise ConfigError(self.file, where,
                              "unknown key (a typo would silently disable a check)")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    return type(value).__name__


def _optional(table: _Table | None, read: Callable[[_Table], T], default: T) -> T:
    if table is None:
        return default
    value = read(table)
    table.finish()
    return value


def _release(t: _Table) -> ReleaseSettings:
    name = t.text("name")
    if not _NAME_PATTERN.match(name):
        raise t.error("name", "must look like 'model' or 'org/model' (letters, digits, . _ -)")
    version = t.text("version")
    if not _VERSION_PATTERN.match(version):
        raise t.error("version", "must be letters, digits and . + _ - only")
    return ReleaseSettings(name=name, version=version, out=t.path("out", "dist"),
                           copyright=t.text("copyright", None),
                           license_texts=t.path("license_texts", None))


def _base_model(t: _Table) -> BaseModel:
    return BaseModel(
        name=t.text("name"), license=t.text("license", None), source=t.text("source", None)
    )


def _model(t: _Table) -> ModelSettings:
    return ModelSettings(
        path=t.path("path"),
        license=t.text("license", None),
        base_model=_optional(t.table("base_model"), _base_model, None),
    )


def _code(t: _Table) -> CodeSettings:
    dest = t.text("dest", "training")
    clean = Path(dest)
    if clean.is_absolute() or ".." in clean.parts or dest.startswith(("/", "\\")):
        raise t.error("dest", "must be a relative folder inside the release, without '..'")
    return CodeSettings(
        path=t.path("path", "."),
        license=t.text("license", None),
        include=t.strings("include"),
        exclude=t.strings("exclude"),
        dest=clean.as_posix().strip("/") if dest not in (".", "") else "",
    )


def _source(t: _Table) -> DataSource:
    path = t.path("path")
    fmt = t.choice("format", SOURCE_FORMATS, None)
    if fmt is None:
        fmt = _guess_format(path)
        if fmt is None:
            raise t.error("format", f"cannot tell the format of {path.name}; set one of "
                          f"{', '.join(SOURCE_FORMATS)}")
    return DataSource(
        path=path,
        format=fmt,
        id_field=t.text("id_field", None),
        text_fields=t.strings("text_fields"),
        sensitive_fields=t.strings("sensitive_fields"),
        record=t.choice("record", ("line", "file"), "line"),
    )


def _guess_format(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".zst", ".zstd")]
    if not suffixes:
        return "hf-dataset" if path.is_dir() else None
    ext = suffixes[-1].lstrip(".")
    return {"ndjson": "jsonl", "text": "txt"}.get(ext, ext if ext in SOURCE_FORMATS else None)


def _data(t: _Table) -> DataSettings:
    index = t.path("index", ".release/index")
    return DataSettings(
        index=index,
        key_file=t.path("key_file", None) or index.with_name(index.name + ".key"),
        sources=tuple(_read_finished(s, _source) for s in t.tables("sources")),
    )


def _read_finished(t: _Table, read: Callable[[_Table], T]) -> T:
    value = read(t)
    t.finish()
    return value


def _privacy(t: _Table) -> PrivacySettings:
    dp_table = t.table("differential_privacy")
    dp = _optional(
        dp_table,
        lambda d: DifferentialPrivacy(epsilon=d.number("epsilon"), delta=d.number("delta", None)),
        None,
    )
    trusted = t._get(
        "trusted_execution", None, lambda v: isinstance(v, str | bool), "a string or a boolean"
    )
    return PrivacySettings(
        pseudonymization=t.flag("pseudonymization", None),
        aggregation=t.flag("aggregation", None),
        no_human_inspection=t.flag("no_human_inspection", None),
        differential_privacy=dp,
        trusted_execution=_describe_flag(trusted),
    )


def _describe_flag(value: str | bool | None) -> str | None:
    """A technique given as true/false or as a description: true becomes "yes", false none."""
    if isinstance(value, bool):
        return "yes" if value else None
    return value


def _agreement(t: _Table) -> AgreementSettings:
    effective = t.day("effective_date", None)
    term_end = t.day("term_end", None)
    if term_end is None and effective is not None:
        term_end = _add_years(effective, 1)
    if effective and term_end and term_end < effective:
        raise t.error("term_end", "is before effective_date")
    return AgreementSettings(
        type=t.text("type", "DUA-OAI"),
        data_provider=t.text("data_provider", None),
        data_user=t.text("data_user", None),
        effective_date=effective,
        term_end=term_end,
        survival_days=t.integer("survival_days", 0, minimum=0),
        deletion_days=t.integer("deletion_days", 0, minimum=0),
        release_url=t.text("release_url", None),
        data_description=t.text("data_description", None, nonempty=False),
        data_limitations=t.text("data_limitations", None, nonempty=False),
        personal_data=t.flag("personal_data", None),
        provider_disclaimer=t.text("provider_disclaimer", None),
        privacy=_optional(t.table("privacy"), _privacy, PrivacySettings()),
    )


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _memorization(t: _Table) -> MemorizationSettings:
    rate = t.number("max_extractable_rate", 0.0)
    if not 0.0 <= rate <= 1.0:
        raise t.error("max_extractable_rate", "must be between 0 and 1")
    epsilon = t.number("epsilon", 0.01)
    if epsilon < 0:
        raise t.error("epsilon", "must not be negative")
    return MemorizationSettings(
        samples=t.integer("samples", 1000, minimum=1),
        prefix_tokens=t.integer("prefix_tokens", 32, minimum=1),
        suffix_tokens=t.integer("suffix_tokens", 32, minimum=1),
        max_extractable_rate=rate,
        seed=t.integer("seed", 0),
        epsilon=epsilon,
        batch_size=t.integer("batch_size", 32, minimum=1),
        device=t.choice("device", DEVICES, "auto"),
        dtype=t.choice("dtype", DTYPES, "float32"),
        canaries=t.path("canaries", None),
        records=t.strings("records"),
        holdout=_optional(t.table("holdout"), _source, None),
    )


def _checks(t: _Table) -> CheckSettings:
    return CheckSettings(
        fail_on=t.choice("fail_on", SEVERITY_NAMES, "error"),
        min_match_words=t.integer("min_match_words", 12, minimum=2),
        min_sensitive_chars=t.integer("min_sensitive_chars", 6, minimum=1),
        baseline=t.path("baseline", None),
        memorization=_optional(t.table("memorization"), _memorization, MemorizationSettings()),
    )


def _card(t: _Table) -> CardSettings:
    language = t._get(
        "language",
        (),
        lambda v: isinstance(v, str)
        or (isinstance(v, list) and all(isinstance(i, str) for i in v)),
        "a string or a list of strings",
    )
    return CardSettings(
        license=t.text("license", "CC-BY-4.0"),
        template=t.text("template", "default"),
        language=(language,) if isinstance(language, str) else tuple(language),
        pipeline_tag=t.text("pipeline_tag", None),
        tags=t.strings("tags"),
    )


def _publish_git(t: _Table) -> GitPublishSettings:
    return GitPublishSettings(
        remote=t.text("remote"),
        branch=t.text("branch", "release"),
        tag=t.text("tag", "v{version}"),
        lfs=t.strings("lfs", ("*.safetensors", "*.bin", "*.gguf", "*.onnx")),
        lfs_threshold_mb=t.number("lfs_threshold_mb", 10.0),
    )


def _publish_hub(t: _Table, default_repo: str) -> HubPublishSettings:
    return HubPublishSettings(
        repo_id=t.text("repo_id", default_repo),
        private=t.flag("private", True),
        revision=t.text("revision", "main"),
        create_pr=t.flag("create_pr", False),
        tag=t.text("tag", "v{version}"),
        endpoint=t.text("endpoint", None),
    )


def parse_config(file: Path, text: str) -> Config:
    """Parse the text of a config file; `file` is used for relative paths and messages."""
    file = file.absolute()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, None, f"not valid TOML: {exc}") from None
    top = _Table(file, "", raw)
    release = _read_finished(_present(top.table("release", required=True)), _release)
    model = _read_finished(_present(top.table("model", required=True)), _model)
    publish = top.table("publish")
    publish_git = publish_hub = None
    if publish is not None:
        publish_git = _optional(publish.table("git"), _publish_git, None)
        publish_hub = _optional(
            publish.table("hub"), lambda t: _publish_hub(t, release.name), None
        )
        publish.finish()
    data_table = top.table("data")
    data = _optional(data_table, _data, None) or _data(_Table(file, "data", {}))
    config = Config(
        path=file,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        release=release,
        model=model,
        code=_optional(top.table("code"), _code, None),
        data=data,
        agreement=_optional(top.table("agreement"), _agreement, AgreementSettings()),
        checks=_optional(top.table("checks"), _checks, CheckSettings()),
        card=_optional(top.table("card"), _card, CardSettings()),
        publish_git=publish_git,
        publish_hub=publish_hub,
    )
    top.finish()
    return config


def _present(table: _Table | None) -> _Table:
    assert table is not None  # table(..., required=True) raised otherwise
    return table


def load_config(path: Path | None = None) -> Config:
    """Read and parse `path` (default `./release.toml`); unreadable files are usage errors."""
    file = (path or Path(DEFAULT_CONFIG_NAME)).absolute()
    if not file.exists():
        hint = " (run `release init` to write one)" if path is None else ""
        raise ConfigError(file, None, f"config file not found{hint}")
    if file.is_dir():
        raise ConfigError(file, None, "is a folder, not a config file")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(file, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(file, None, f"not UTF-8 (byte {exc.start})") from None
    return parse_config(file, text)

