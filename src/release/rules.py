"""The table of every rule `release` can report, by stable id."""

from __future__ import annotations

from release.findings import Rule, Severity

E, W = Severity.ERROR, Severity.WARNING

SYMLINK_OUTSIDE = Rule(
    "RL101", "symlink-outside-tree", E,
    "A symlink points outside its tree, is broken, or loops; it is never followed.")
SPECIAL_FILE = Rule(
    "RL102", "special-file", E,
    "A device file, FIFO or socket sits where files are shipped.")
UNREADABLE_FILE = Rule(
    "RL103", "unreadable-file", E,
    "A file that would ship could not be read, so it could not be checked.")
UNSAFE_SERIALIZATION = Rule(
    "RL104", "unsafe-serialization", E,
    "A pickle, found by its opcodes under any name and in any container (torch .bin/.pt/.ckpt, "
    "joblib, .pkl, object arrays), can run code when loaded; ship safetensors.")
DATA_FILE = Rule(
    "RL105", "data-file", E,
    "A data file (tabular, records, arrays, databases) would ship with the model.")
SECRET_SHIPPED = Rule(
    "RL106", "index-or-key-shipped", E,
    "The fingerprint index or its secret key would ship.")
PATH_COLLISION = Rule(
    "RL107", "path-collision", E,
    "Two files, or a file and a generated one, would land on the same release path.")
DIRECTORY_SYMLINK = Rule(
    "RL108", "directory-symlink", W,
    "A symlink to a folder inside the tree is not followed; its files ship from their real path.")
UNCOMMITTED_CODE = Rule(
    "RL109", "uncommitted-code", W,
    "A shipped code file differs from the git commit recorded in the manifest.")
UNSCANNABLE_CONTENT = Rule(
    "RL110", "unscannable-content", E,
    "Part of a file could not be reduced to text (unknown binary, corrupt, over a limit).")
ARCHIVE_LIMIT = Rule(
    "RL111", "archive-limit", E,
    "An archive expands past the size, ratio, depth or member limits (a possible bomb).")
BAD_FILE_NAME = Rule(
    "RL112", "bad-file-name", E,
    "A file name is not valid UTF-8 or holds control characters; it cannot be shipped as is.")
MALFORMED_FILE = Rule(
    "RL113", "malformed-file", E,
    "A file's structure is broken (a safetensors header that does not match its data), so its "
    "users' loaders refuse it.")
CODE_EXECUTION = Rule(
    "RL114", "code-execution", E,
    "Loading a file runs code: a pickle importing os, subprocess, eval and the like, a Keras "
    "Lambda layer, a TensorFlow op that touches files or runs Python, a chat template that "
    "reaches Python internals. It cannot be accepted in the baseline.", acceptable=False)
TRAILING_DATA = Rule(
    "RL115", "trailing-data", E,
    "Bytes follow the end of a zip, a pickle, an array or a safetensors payload (a polyglot "
    "file); they are read as a file of their own.")
ENCRYPTED_CONTENT = Rule(
    "RL116", "encrypted-content", E,
    "An archive or member is encrypted, so it cannot be checked.")
EXTERNAL_PATH = Rule(
    "RL117", "external-path", E,
    "A model file makes its loader read a path outside the model folder (an ONNX "
    "external-data location, a TensorFlow Save/Restore path).")
TRAINING_TEXT = Rule(
    "RL201", "training-text", E,
    "A run of at least min_match_words words of a training record appears verbatim.")
SENSITIVE_VALUE = Rule(
    "RL202", "sensitive-value", E,
    "A sensitive value of a training record (name, email, record number) appears.")
DATA_SOURCE_COPY = Rule(
    "RL203", "data-source-copy", E,
    "A shipped file is byte-identical to a confidential data source (a renamed copy).")
DATA_SOURCE_UNAVAILABLE = Rule(
    "RL204", "data-source-unavailable", E,
    "A configured data source could not be read, so copies of it cannot be detected.")
NO_DATA_SOURCES = Rule(
    "RL205", "no-data-sources", E,
    "No [[data.sources]] are configured, so nothing proves the training data stays out.")
EXTRACTABLE_RECORD = Rule(
    "RL301", "extractable-record", E,
    "Greedy decoding from a training record's first tokens reproduces its next tokens verbatim.")
EXTRACTABLE_RATE = Rule(
    "RL302", "extractable-rate", E,
    "The share of sampled training records the model reproduces is above max_extractable_rate.")
NOT_AUDITED = Rule(
    "RL303", "not-audited", W,
    "The model could not be audited for memorisation here; the reason says why.")
GENERATED_TRAINING_DATA = Rule(
    "RL304", "generated-training-data", E,
    "A free generation of the model, from a generic prompt, holds training text or a sensitive "
    "value of a training record (untargeted extraction).")
CANARY_EXPOSED = Rule(
    "RL305", "canary-exposed", E,
    "The model ranks a planted canary far above random strings of its format: its exposure "
    "is above max_exposure bits.")
NOT_OSI_APPROVED = Rule(
    "RL401", "not-osi-approved", E,
    "The model or code licence is not OSI-approved (DUA-OAI §3(c)).")
USE_RESTRICTED = Rule(
    "RL402", "use-restricted-license", E,
    "The model licence restricts use (RAIL, non-commercial, no-derivatives; DUA-OAI §4(c)).")
UNKNOWN_LICENSE = Rule(
    "RL403", "unknown-license", E,
    "A licence is missing, not a valid SPDX expression, or has no text to attach.")
MISSING_DISCLAIMER = Rule(
    "RL404", "missing-disclaimer", E,
    "No Data Provider disclaimer can be put in NOTICE (DUA-OAI §3(c)).")
OUTSIDE_TERM = Rule(
    "RL405", "outside-term", E,
    "The release date is outside the agreement's term (DUA-OAI §3(b), §8).")
BASE_MODEL_TERMS = Rule(
    "RL406", "base-model-terms", E,
    "The base model's licence is missing, unknown or passes use restrictions on (DUA-OAI §5(c)).")
RELEASE_URL_MISMATCH = Rule(
    "RL407", "release-url-mismatch", E,
    "agreement.release_url is not where the release is published.")
NOT_REUSE_COMPLIANT = Rule(
    "RL408", "not-reuse-compliant", E,
    "The staged release fails reuse lint (a file without licence or copyright, a missing text).")
UNFILLED_PLACEHOLDER = Rule(
    "RL409", "unfilled-placeholder", E,
    "A value in release.toml is still a placeholder that `release init` wrote (TODO).",
    acceptable=False)
PRIVACY_UNDECLARED = Rule(
    "RL410", "privacy-undeclared", W,
    "The data holds personal data, but no privacy technique is declared in "
    "[agreement.privacy] (DUA-OAI Attachment B).")
CARD_METADATA_INVALID = Rule(
    "RL501", "card-metadata-invalid", E,
    "The model card does not load with huggingface_hub or breaks the Hub's metadata rules.")
CARD_METADATA_CONFLICT = Rule(
    "RL502", "card-metadata-conflict", E,
    "The model folder's own README.md metadata disagrees with the release (licence, base model).")
CARD_NAMES_DATASET = Rule(
    "RL503", "card-names-dataset", W,
    "The model folder's README.md lists datasets; the card leaves them out.")
MANIFEST_INVALID = Rule(
    "RL601", "manifest-invalid", E,
    "release-manifest.json is missing, unreadable or malformed.")
FILE_CHANGED = Rule(
    "RL602", "file-changed", E,
    "A staged file's size or sha256 differs from the manifest.")
FILE_ADDED = Rule(
    "RL603", "file-added", E,
    "A file, symlink or special file in the staged folder is not in the manifest.")
FILE_REMOVED = Rule(
    "RL604", "file-removed", E,
    "A file listed in the manifest is missing from the staged folder.")
REPORT_MISMATCH = Rule(
    "RL605", "report-mismatch", E,
    "The release report is missing or is not the one the manifest was written with.")
REPORT_NOT_PASSED = Rule(
    "RL606", "report-not-passed", E,
    "The release report's verdict is not 'pass'.")
REPORT_STALE = Rule(
    "RL607", "report-stale", E,
    "The release report is older than the newest file in the staged folder.")
TAG_CONFLICT = Rule(
    "RL608", "tag-conflict", E,
    "The release tag already exists on the remote and points at other content.")
REMOTE_DIFFERS = Rule(
    "RL609", "remote-differs", E,
    "After the push, the remote does not hold exactly the files of the manifest.")
MANIFEST_NOT_SCANNED = Rule(
    "RL611", "manifest-not-scanned", E,
    "The manifest lists a file the report's scan never saw, or with other bytes, or another "
    "name or version than the report's.")
SOURCE_COMMIT_MISMATCH = Rule(
    "RL610", "source-commit-mismatch", E,
    "The staged release was built from a different git commit than the one being checked.")
SIGNATURE_MISMATCH = Rule(
    "RL612", "signature-mismatch", E,
    "The release's signature (model.sig) does not verify, is missing where one is required, "
    "or names other bytes than a file holds.")
GATED_REPOSITORY = Rule(
    "RL613", "gated-repository", E,
    "The Hub repository asks users to accept extra access terms (gated), which restricts the "
    "use of the trained model (DUA-OAI §4(c)).")
CREDENTIAL = Rule(
    "RL701", "credential", E,
    "A credential (an access token, an API key, a private key, a password in a URL or an "
    "assignment) appears in a shipped file; rotate it, then remove it.")
CREDENTIAL_FILE = Rule(
    "RL702", "credential-file", E,
    "A file whose name says it stores credentials (.netrc, .git-credentials, .env, id_rsa, "
    "*.pem, a Hugging Face token file) would ship, whatever it holds.")

# training data found in a shipped file: as text, as a sensitive value, or as a whole copy
TRAINING_DATA_IN_FILES = frozenset({TRAINING_TEXT, SENSITIVE_VALUE, DATA_SOURCE_COPY})

ALL_RULES: tuple[Rule, ...] = tuple(
    sorted((v for v in list(globals().values()) if isinstance(v, Rule)), key=lambda r: r.id)
)
RULES_BY_ID = {rule.id: rule for rule in ALL_RULES}
assert len(RULES_BY_ID) == len(ALL_RULES), "duplicate rule id"
