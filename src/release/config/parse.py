"""`release.toml` parsed once into the frozen settings; errors name the file and dotted key."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from release.audit.canary_format import FormatError, parse_format
from release.config.lines import key_line, key_lines
from release.config.placeholders import without_placeholders
from release.config.settings import (
    DEFAULT_BUILD_MEMORY,
    DEFAULT_CONFIG_NAME,
    DEVICES,
    DTYPES,
    ENGINES,
    MATCH_WORDS,
    MIN_BUILD_MEMORY,
    SENSITIVE_CHARS,
    SEVERITY_NAMES,
    SIGN_METHODS,
    SOURCE_FORMATS,
    AgreementSettings,
    BaseModel,
    CardSettings,
    CheckSettings,
    CodeSettings,
    Config,
    DataSettings,
    DataSource,
    DifferentialPrivacy,
    GenerationSettings,
    GitPublishSettings,
    HubPublishSettings,
    MemorizationSettings,
    ModelSettings,
    PrivacySettings,
    ReleaseSettings,
    SignSettings,
)
from release.config.table import Table
from release.errors import ConfigError
from release.regular import read_regular
from release.remote import SourcePath

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]*$")

T = TypeVar("T")
MAX_DAYS = 36_525  # a hundred years: longer windows are mistakes, and overflow date arithmetic


def _optional(table: Table | None, read: Callable[[Table], T], default: T) -> T:
    if table is None:
        return default
    value = read(table)
    table.finish()
    return value


def _release(t: Table) -> ReleaseSettings:
    # the Hub allows 96 characters for a repository name and as many for its owner
    name = t.text("name", max_length=193, single_line=True)
    if not _NAME_PATTERN.match(name):
        raise t.error("name", "must look like 'model' or 'org/model' (letters, digits, . _ -)")
    version = t.text("version", max_length=64, single_line=True)
    if not _VERSION_PATTERN.match(version):
        raise t.error("version", "must be letters, digits and . + _ - only")
    out = t.path("out", "dist")
    if out.exists() and not out.is_dir():
        raise t.error("out", f"{out} exists and is not a folder")
    return ReleaseSettings(name=name, version=version, out=out,
                           copyright=t.text("copyright", None, single_line=True),
                           license_texts=t.path("license_texts", None))


def _base_model(t: Table) -> BaseModel:
    return BaseModel(
        name=t.text("name"), license=t.text("license", None), source=t.text("source", None)
    )


def _model(t: Table) -> ModelSettings:
    return ModelSettings(
        path=t.path("path"),
        license=t.text("license", None),
        base_model=_optional(t.table("base_model"), _base_model, None),
        include=t.strings("include"),
        exclude=t.strings("exclude"),
        tokenizer_from_data=t.flag("tokenizer_from_data", None),
    )


def _code(t: Table) -> CodeSettings:
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


def _source(t: Table) -> DataSource:
    path = t.location("path")
    fmt = t.choice("format", SOURCE_FORMATS, None)
    if fmt is None:
        fmt = guess_format(path)
        if fmt is None:
            raise t.error("format", f"cannot tell the format of {path.name}; set one of "
                          f"{', '.join(SOURCE_FORMATS)}")
    return DataSource(
        path=path,
        format=fmt,
        id_field=t.text("id_field", None),
        text_fields=_text_fields(t),
        sensitive_fields=t.strings("sensitive_fields"),
        record=t.choice("record", ("line", "file"), "line"),
    )


def _text_fields(t: Table) -> tuple[str, ...] | None:
    """The fields that hold training text; not set, every field is; an empty list would index
    no text at all, so it is an error."""
    if "text_fields" not in t.data:
        t.seen.add("text_fields")
        return None
    fields = t.strings("text_fields")
    if not fields:
        raise t.error("text_fields", "is empty, so no training text would be indexed and every "
                      "leak would pass; name the fields that hold text, or leave the key out to "
                      "index every field")
    return fields


def guess_format(path: SourcePath) -> str | None:
    """The source format a path's name says (a folder: a `datasets` folder), if any."""
    if path.is_dir():
        return "hf-dataset"
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".zst", ".zstd")]
    if not suffixes:
        return None
    ext = suffixes[-1].lstrip(".")
    return {"ndjson": "jsonl", "text": "txt"}.get(ext, ext if ext in SOURCE_FORMATS else None)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def _memory(t: Table, name: str, default: int) -> int:
    """A size in bytes, written as an integer or as "8GB", "512MiB"."""
    value = t._get(name, default, lambda v: isinstance(v, int | str) and not isinstance(v, bool),
                   'a size such as "8GB" or a number of bytes')
    match = _SIZE.match(value) if isinstance(value, str) else None
    if isinstance(value, str) and (match is None or
                                   (match.group(2) or "").lower() not in _UNITS):
        raise t.error(name, f'is {value!r}; write a size such as "8GB" or "512MiB"')
    size = int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()]) if match \
        else int(value)
    if size < MIN_BUILD_MEMORY:
        raise t.error(name, f"is {size} bytes; an index build needs at least "
                      f"{MIN_BUILD_MEMORY >> 20} MiB")
    return size


def _data(t: Table) -> DataSettings:
    index = t.path("index", ".release/index")
    return DataSettings(
        index=index,
        key_file=t.path("key_file", None) or index.with_name(index.name + ".key"),
        sources=tuple(_read_finished(s, _source) for s in t.tables("sources")),
        build_memory=_memory(t, "build_memory", DEFAULT_BUILD_MEMORY),
        engine=t.choice("engine", ENGINES, "local"),
        scheduler=t.text("scheduler", None),
    )


def _read_finished(t: Table, read: Callable[[Table], T]) -> T:
    value = read(t)
    t.finish()
    return value


def _privacy(t: Table) -> PrivacySettings:
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


def _agreement(t: Table) -> AgreementSettings:
    effective = t.day("effective_date", None)
    term_end = t.day("term_end", None)
    if term_end is None and effective is not None:
        term_end = _add_years(effective, 1)
        if term_end is None:
            raise t.error("effective_date", "leaves no year for the term to end in; set "
                          "term_end")
    if effective and term_end and term_end < effective:
        raise t.error("term_end", "is before effective_date")
    d = AgreementSettings()
    survival = t.integer("survival_days", d.survival_days, minimum=0, maximum=MAX_DAYS)
    deletion = t.integer("deletion_days", d.deletion_days, minimum=0, maximum=MAX_DAYS)
    if term_end is not None and term_end > dt.date.max - dt.timedelta(
            days=max(survival, deletion)):
        raise t.error("term_end", "is so late that its survival or deletion window ends after "
                      "year 9999")
    return AgreementSettings(
        type=t.text("type", d.type),
        version=t.text("version", d.version, single_line=True),
        data_provider=t.text("data_provider", d.data_provider),
        data_user=t.text("data_user", d.data_user),
        effective_date=effective,
        term_end=term_end,
        survival_days=survival,
        deletion_days=deletion,
        release_url=t.text("release_url", d.release_url),
        data_description=t.text("data_description", d.data_description, nonempty=False),
        data_limitations=t.text("data_limitations", d.data_limitations, nonempty=False),
        personal_data=t.flag("personal_data", d.personal_data),
        provider_disclaimer=t.text("provider_disclaimer", d.provider_disclaimer),
        privacy=_optional(t.table("privacy"), _privacy, d.privacy),
    )


def _add_years(day: dt.date, years: int) -> dt.date | None:
    """The same day `years` later (28 February for 29 February); None past year 9999."""
    if day.year + years > dt.MAXYEAR:
        return None
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _memorization(t: Table) -> MemorizationSettings:
    d = MemorizationSettings()
    rate = t.number("max_extractable_rate", d.max_extractable_rate)
    if not 0.0 <= rate <= 1.0:
        raise t.error("max_extractable_rate", "must be between 0 and 1")
    epsilon = t.number("epsilon", d.epsilon)
    if epsilon < 0:
        raise t.error("epsilon", "must not be negative")
    formats = t.strings("canary_formats", d.canary_formats)
    for number, text in enumerate(formats):
        try:
            parse_format(text)
        except FormatError as exc:
            raise t.error("canary_formats", f"entry {number + 1} {exc}") from None
    return MemorizationSettings(
        samples=t.integer("samples", d.samples, minimum=1),
        prefix_tokens=t.integer("prefix_tokens", d.prefix_tokens, minimum=1),
        suffix_tokens=t.integer("suffix_tokens", d.suffix_tokens, minimum=1),
        max_extractable_rate=rate,
        seed=t.integer("seed", d.seed),
        epsilon=epsilon,
        batch_size=t.integer("batch_size", d.batch_size, minimum=1),
        device=t.choice("device", DEVICES, d.device),
        dtype=t.choice("dtype", DTYPES, d.dtype),
        canaries=t.path("canaries", d.canaries),
        records=t.strings("records", d.records),
        holdout=_optional(t.table("holdout"), _source, d.holdout),
        canary_formats=formats,
        max_exposure=t.number("max_exposure", d.max_exposure, minimum=0.0),
        exposure_candidates=t.integer("exposure_candidates", d.exposure_candidates,
                                      minimum=100, maximum=10_000_000),
        generate=_optional(t.table("generate"), _generation, d.generate),
    )


def _generation(t: Table) -> GenerationSettings:
    d = GenerationSettings()
    return GenerationSettings(
        samples=t.integer("samples", d.samples, minimum=0, maximum=10_000_000),
        max_new_tokens=t.integer("max_new_tokens", d.max_new_tokens, minimum=1,
                                 maximum=1_000_000),
        top_k=t.integer("top_k", d.top_k, minimum=0),
        temperature=t.number("temperature", d.temperature, minimum=0.01, maximum=100.0),
        prompts=t.path("prompts", d.prompts),
        seed=t.integer("seed", d.seed),
        batch_size=t.integer("batch_size", d.batch_size, minimum=1, maximum=65_536),
    )


def _checks(t: Table) -> CheckSettings:
    d = CheckSettings()
    return CheckSettings(
        fail_on=t.choice("fail_on", SEVERITY_NAMES, d.fail_on),
        min_match_words=t.integer("min_match_words", d.min_match_words,
                                  minimum=MATCH_WORDS[0], maximum=MATCH_WORDS[1]),
        min_sensitive_chars=t.integer("min_sensitive_chars", d.min_sensitive_chars,
                                      minimum=SENSITIVE_CHARS[0], maximum=SENSITIVE_CHARS[1]),
        baseline=t.path("baseline", d.baseline),
        secrets=t.flag("secrets", d.secrets),
        memorization=_optional(t.table("memorization"), _memorization, d.memorization),
    )


def _card(t: Table) -> CardSettings:
    language = t._get(
        "language",
        CardSettings().language,
        lambda v: isinstance(v, str)
        or (isinstance(v, list) and all(isinstance(i, str) for i in v)),
        "a string or a list of strings",
    )
    d = CardSettings()
    return CardSettings(
        license=t.text("license", d.license),
        template=t.text("template", d.template),
        language=(language,) if isinstance(language, str) else tuple(language),
        pipeline_tag=t.text("pipeline_tag", d.pipeline_tag),
        tags=t.strings("tags", d.tags),
        eval_results=t.path("eval_results", d.eval_results),
    )


def _publish_git(t: Table) -> GitPublishSettings:
    d = GitPublishSettings(remote="")
    return GitPublishSettings(
        remote=t.text("remote"),
        branch=t.text("branch", d.branch),
        tag=t.text("tag", d.tag),
        lfs=t.strings("lfs", d.lfs),
        lfs_threshold_mb=t.number("lfs_threshold_mb", d.lfs_threshold_mb, minimum=0,
                                  maximum=1 << 20),
        timeout=t.number("timeout", d.timeout, minimum=1, maximum=86400),
    )


def _publish_hub(t: Table, default_repo: str) -> HubPublishSettings:
    d = HubPublishSettings(repo_id=default_repo)
    return HubPublishSettings(
        repo_id=t.text("repo_id", d.repo_id),
        private=t.flag("private", d.private),
        revision=t.text("revision", d.revision),
        create_pr=t.flag("create_pr", d.create_pr),
        tag=t.text("tag", d.tag),
        endpoint=t.text("endpoint", d.endpoint),
        timeout=t.number("timeout", d.timeout, minimum=1, maximum=86400),
    )


def _sign(t: Table) -> SignSettings:
    method = t.choice("method", SIGN_METHODS)
    settings = SignSettings(
        method=method,
        private_key=t.path("private_key", None),
        password_env=t.text("password_env", None),
        certificate=t.path("certificate", None),
        certificate_chain=tuple(t.path_list("certificate_chain")),
    )
    needed = {"key": ("private_key",), "certificate": ("private_key", "certificate"),
              "sigstore": ()}[method]
    for name in needed:
        if getattr(settings, name) is None:
            raise t.error(name, f"is required for method = {method!r}")
    return settings


def parse_config(file: Path, text: str) -> Config:
    """Parse the text of a config file; `file` is used for relative paths and messages (an
    error about a key names its line)."""
    file = file.absolute()
    try:
        return _parse(file, text)
    except ConfigError as exc:
        if exc.key is None or exc.line is not None:
            raise
        raise ConfigError(exc.path or file, exc.key, exc.message,
                          key_line(key_lines(text), exc.key)) from None


def _parse(file: Path, text: str) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, None, f"not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(file, None, "not valid TOML: arrays or tables nested too deeply") \
            from None
    raw, placeholders = without_placeholders(raw)
    top = Table(file, "", raw, frozenset(placeholders))
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
    data = _optional(data_table, _data, None) or _data(Table(file, "data", {}))
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
        sign=_optional(top.table("sign"), _sign, None),
        key_lines=MappingProxyType(key_lines(text)),
        placeholders=placeholders,
    )
    top.finish()
    return config


def _present(table: Table | None) -> Table:
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
        raw = read_regular(file)
    except OSError as exc:
        raise ConfigError(file, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(file, None, f"not UTF-8 (byte {exc.start})") from None
    return parse_config(file, text)
