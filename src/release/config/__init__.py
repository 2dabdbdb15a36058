"""`release.toml`: parsed once (parse.py) into frozen settings (settings.py), read a table at a
time with typed getters that name the file and dotted key (table.py)."""

from __future__ import annotations

from release.config.parse import load_config, parse_config
from release.config.settings import (
    DEFAULT_BASELINE_NAME,
    DEFAULT_CONFIG_NAME,
    DEVICES,
    DTYPES,
    MATCH_WORDS,
    SENSITIVE_CHARS,
    SEVERITY_NAMES,
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

__all__ = [
    "DEFAULT_BASELINE_NAME", "DEFAULT_CONFIG_NAME", "DEVICES", "DTYPES", "MATCH_WORDS",
    "SENSITIVE_CHARS", "SEVERITY_NAMES",
    "SOURCE_FORMATS", "AgreementSettings", "BaseModel", "CardSettings", "CheckSettings",
    "CodeSettings", "Config", "DataSettings", "DataSource", "DifferentialPrivacy",
    "GenerationSettings", "GitPublishSettings", "HubPublishSettings", "MemorizationSettings",
    "ModelSettings", "PrivacySettings", "ReleaseSettings", "SignSettings", "load_config",
    "parse_config",
]
