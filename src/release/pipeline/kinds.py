"""What kind of file a name says it is: weights, tokenizer, data, archive, notebook, code,
config, doc or other (content sniffing may later say "data")."""

from __future__ import annotations

from pathlib import PurePosixPath

WEIGHT_SUFFIXES = frozenset({
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".ggml", ".onnx", ".msgpack",
    ".keras", ".pkl", ".pickle", ".joblib", ".tflite", ".mlmodel", ".pb", ".nemo",
})
TOKENIZER_NAMES = frozenset({
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
    "vocab.txt", "merges.txt", "added_tokens.json", "tokenizer.model", "spiece.model",
    "sentencepiece.bpe.model", "vocab.model",
})
DATA_SUFFIXES = frozenset({
    ".csv", ".tsv", ".jsonl", ".ndjson", ".parquet", ".arrow", ".feather", ".npy", ".npz",
    ".hdf5", ".sqlite", ".sqlite3", ".db", ".tfrecord", ".tfrecords", ".avro", ".orc",
    ".xlsx", ".xls", ".dta", ".sav", ".rds", ".rdata",
})
COMPRESSION_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zst", ".zstd", ".lz4"})
ARCHIVE_SUFFIXES = frozenset({".zip", ".tar", ".tgz", ".tbz2", ".txz", ".7z", ".rar"})
NOTEBOOK_SUFFIXES = frozenset({".ipynb"})
CODE_SUFFIXES = frozenset({
    ".py", ".pyi", ".pyx", ".sh", ".bash", ".r", ".jl", ".js", ".ts", ".c", ".cc", ".cpp",
    ".h", ".hpp", ".cu", ".rs", ".go", ".java", ".scala", ".sql", ".lua", ".pl", ".rb",
})
CODE_NAMES = frozenset({"makefile", "dockerfile", "justfile", "snakefile"})
CONFIG_SUFFIXES = frozenset({".json", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".conf"})
DOC_SUFFIXES = frozenset({".md", ".rst", ".txt", ".html", ".htm", ".pdf", ".tex", ".adoc"})
DOC_PREFIXES = ("readme", "license", "licence", "notice", "citation", "changelog", "authors")
KERAS_HDF5_HINTS = ("model", "weights")


def lower_suffix(name: str) -> str:
    """The last suffix of a file name, lower-cased (".json" of "Config.JSON")."""
    return PurePosixPath(name.lower()).suffix


def classify_kind(name: str) -> str:
    """The kind of a file from its name alone (content sniffing may later say 'data')."""
    lower = name.lower()
    suffixes = [s for s in PurePosixPath(lower).suffixes if len(s) <= 16]
    suffix = suffixes[-1] if suffixes else ""
    if lower in TOKENIZER_NAMES:
        return "tokenizer"
    if suffix in COMPRESSION_SUFFIXES and len(suffixes) >= 2:
        inner = suffixes[-2]
        if inner in DATA_SUFFIXES:
            return "data"
        if inner == ".tar":
            return "archive"
    if suffix in {".h5", ".hdf5"}:
        return "weights" if any(h in lower for h in KERAS_HDF5_HINTS) else "data"
    if suffix in WEIGHT_SUFFIXES:
        return "weights"
    if suffix in DATA_SUFFIXES:
        return "data"
    if suffix in ARCHIVE_SUFFIXES or suffix in COMPRESSION_SUFFIXES:
        return "archive"
    if suffix in NOTEBOOK_SUFFIXES:
        return "notebook"
    if suffix in CODE_SUFFIXES or lower in CODE_NAMES:
        return "code"
    if suffix in CONFIG_SUFFIXES or lower in {"requirements.txt", ".gitattributes"}:
        return "config"
    if suffix in DOC_SUFFIXES or lower.startswith(DOC_PREFIXES):
        return "doc"
    return "other"
