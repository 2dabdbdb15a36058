"""Code inside model formats, found without loading them: Keras Lambda layers and imports of
unsafe modules (config.json, an HDF5 model_config, keras_metadata.pb), TensorFlow ops that
touch files or run Python, ONNX external data outside the model folder, chat templates that
reach Python internals."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from release.extract import MAX_STRUCTURED_BYTES, Context, Hazard
from release.extract.pickles import classify_global, unsafe_code
from release.extract.wire import fields

MAX_WALK_NODES = 1_000_000  # JSON values visited per document
MAX_PROTOBUF_NESTING = 24
MAX_JSON_STRING = 64 << 20  # protobuf strings parsed as Keras metadata up to this size
SAVE_RESTORE_OPS = frozenset({"Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2",
                              "RestoreSlice", "MergeV2Checkpoints"})
_TEMPLATE_OPENERS = re.compile(r"\{[{%]")
_TEMPLATE_ESCAPES = re.compile(
    r"__[A-Za-z0-9_]+__|\|\s*attr\b|\bimport\b|\bself\s*\.\s*_|_TemplateReference")


def _layer_label(node: dict[str, Any]) -> str:
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
        return f"Lambda:{name}"
    return "Lambda"


def keras_code(document: Any) -> list[str]:
    """Lambda layers (and Keras 3 `__lambda__` functions) in a Keras config, and objects it
    would import from unsafe modules."""
    layers = set(unsafe_code()["keras_layers"])
    found: list[str] = []
    pending = [document]
    visited = 0
    while pending and visited < MAX_WALK_NODES:
        node = pending.pop()
        visited += 1
        if isinstance(node, list):
            pending.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        pending.extend(node.values())
        kind = node.get("class_name")
        if not isinstance(kind, str):
            continue
        if kind in layers:
            found.append(_layer_label(node) if kind == "Lambda" else kind)
        elif kind == "__lambda__":
            found.append("__lambda__")
        module = node.get("module")
        if isinstance(module, str) and module and not module.startswith(("keras", "tf_keras")):
            name = node.get("registered_name") or kind
            target = f"{module}.{name}"
            if classify_global(target) == "dangerous":
                found.append(target)
    return found


def document_code(document: Any, context: Context) -> Iterator[Hazard]:
    """Hazards of a parsed JSON document: Keras code, and a chat template that escapes."""
    found = keras_code(document)
    if found:
        yield Hazard("code", "keras", context.member, tuple(dict.fromkeys(found)),
                     tuple(dict.fromkeys(found)))
    if isinstance(document, dict):
        templates = document.get("chat_template")
        if isinstance(templates, list):
            templates = [t.get("template") for t in templates if isinstance(t, dict)]
        for template in templates if isinstance(templates, list) else [templates]:
            if isinstance(template, str):
                yield from template_code(template, context.member)


def _template_tags(template: str) -> Iterator[str]:
    """The `{{ … }}` and `{% … %}` tags of a Jinja template, in one pass (an unclosed tag
    runs to the end, as Jinja would refuse it anyway)."""
    position = 0
    while (opener := _TEMPLATE_OPENERS.search(template, position)) is not None:
        closer = "}}" if opener.group(0) == "{{" else "%}"
        end = template.find(closer, opener.end())
        if end < 0:
            yield template[opener.start():]
            return
        yield template[opener.start(): end + 2]
        position = end + 2


def template_code(template: str, member: str | None) -> Iterator[Hazard]:
    """A Jinja chat template whose tags reach Python internals (dunder attributes, the attr
    filter, imports): rendering it outside a sandbox runs code."""
    reached = sorted({match.group(0).replace(" ", "") for tag in _template_tags(template)
                      for match in _TEMPLATE_ESCAPES.finditer(tag)})
    if reached:
        names = tuple(name if re.fullmatch(r"[\w.|]{1,40}", name) else "(escape)"
                      for name in reached)
        yield Hazard("code", "chat-template", member, names, names)


def _messages(data: bytes, number: int) -> list[bytes]:
    return [v for n, v in fields(data) if n == number and not isinstance(v, int)]


def _text(data: bytes, number: int) -> str:
    values = _messages(data, number)
    return bytes(values[0]).decode("utf-8", "replace") if values else ""


def _escapes(path: str) -> bool:
    """Whether a path a model file names leaves the folder it sits in."""
    normal = path.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal) or "://" in normal:
        return True
    return ".." in PurePosixPath(normal).parts


def _const_strings(node: bytes) -> list[str]:
    """The string values of a Const NodeDef (its `value` attr's TensorProto string_val)."""
    strings = []
    for entry in _messages(node, 5):
        if _text(entry, 1) != "value":
            continue
        for attr in _messages(entry, 2):
            for tensor in _messages(attr, 8):
                strings += [bytes(s).decode("utf-8", "replace") for s in _messages(tensor, 8)]
    return strings


def _graph_ops(nodes: list[bytes]) -> list[str]:
    """Unsafe ops among NodeDefs: by name, and Save/Restore ops whose path is a constant
    outside the model."""
    unsafe = set(unsafe_code()["tf_ops"])
    by_name = {_text(node, 1): node for node in nodes}
    found = []
    for node in nodes:
        op = _text(node, 2)
        if op in unsafe:
            found.append(op)
        elif op in SAVE_RESTORE_OPS:
            inputs = _messages(node, 3)
            source = bytes(inputs[0]).decode("utf-8", "replace").lstrip("^").split(":")[0] \
                if inputs else ""
            const = by_name.get(source)
            if const is not None and _text(const, 2) == "Const" and \
                    any(_escapes(path) for path in _const_strings(const)):
                found.append(f"{op}(path outside the model)")
    return found


def _graph_def_ops(graph: bytes) -> list[str]:
    found = _graph_ops(_messages(graph, 1))
    for library in _messages(graph, 2):
        for function in _messages(library, 1):
            found += _graph_ops(_messages(function, 3))
    return found


def tensorflow_ops(data: bytes) -> list[str]:
    """Unsafe ops of a SavedModel (saved_model.pb: its meta graphs' graphs and function
    libraries) or of a frozen GraphDef."""
    try:
        top = fields(data)
        if any(n == 1 and isinstance(v, int) for n, v in top):  # SavedModel schema version
            return [op for meta in _messages(data, 2) for graph in _messages(meta, 2)
                    for op in _graph_def_ops(graph)]
        return _graph_def_ops(data)
    except ValueError:
        return []


def keras_metadata_code(strings: list[str]) -> list[str]:
    """Keras code in the JSON strings of keras_metadata.pb or a SavedModel's object graph."""
    found: list[str] = []
    for text in strings:
        if text.lstrip().startswith("{") and len(text) <= MAX_JSON_STRING:
            try:
                found += keras_code(json.loads(text))
            except (ValueError, RecursionError):
                continue
    return found


def onnx_external_paths(data: bytes) -> list[str]:
    """ONNX external-data locations that leave the model folder, as hashes (never the path)."""
    escaping: list[str] = []
    try:
        for graph in _messages(data, 7):
            _onnx_graph(graph, escaping, 0)
        for function in _messages(data, 25):
            for node in _messages(function, 7):
                _onnx_node(node, escaping, 0)
    except ValueError:
        return escaping
    return escaping


def _onnx_graph(graph: bytes, escaping: list[str], depth: int) -> None:
    if depth > MAX_PROTOBUF_NESTING:
        raise ValueError("graphs nested too deep")
    for tensor in _messages(graph, 5):
        _onnx_tensor(tensor, escaping)
    for sparse in _messages(graph, 15):
        for tensor in _messages(sparse, 1) + _messages(sparse, 2):
            _onnx_tensor(tensor, escaping)
    for node in _messages(graph, 1):
        _onnx_node(node, escaping, depth)


def _onnx_node(node: bytes, escaping: list[str], depth: int) -> None:
    for attribute in _messages(node, 5):
        for tensor in _messages(attribute, 5) + _messages(attribute, 10):
            _onnx_tensor(tensor, escaping)
        for graph in _messages(attribute, 6) + _messages(attribute, 11):
            _onnx_graph(graph, escaping, depth + 1)


def _onnx_tensor(tensor: bytes, escaping: list[str]) -> None:
    for entry in _messages(tensor, 13):
        if _text(entry, 1) == "location":
            location = _text(entry, 2)
            if _escapes(location):
                escaping.append("location#" + hashlib.sha256(location.encode()).hexdigest()[:12])


# run in a child process: libhdf5 parsing a hostile file may crash, and must not take the scan
# down with it. Prints the model's config attributes as a JSON list.
_HDF5_CHILD = """
import io, json, sys
import h5py
source = sys.argv[1] if len(sys.argv) > 1 else io.BytesIO(sys.stdin.buffer.read())
with h5py.File(source, "r") as model:
    found = [model.attrs.get(key) for key in ("model_config", "training_config")]
print(json.dumps([v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                  for v in found if isinstance(v, str | bytes)]))
"""
HDF5_TIMEOUT_SECONDS = 120


def _hdf5_configs(handle: Any, context: Context) -> list[str] | str:
    """The Keras config attributes of an HDF5 file, read by h5py in a child process; a str
    when they could not be read (the reason)."""
    if importlib.util.find_spec("h5py") is None:
        return ("HDF5 model could not be checked for Keras Lambda layers: install the keras "
                "extra (pip install 'release[keras]', which adds h5py)")
    source = context.source if context.source is not None and context.member is None else None
    data = b""
    if source is None:
        handle.seek(0)
        data = handle.read(MAX_STRUCTURED_BYTES + 1)
        if len(data) > MAX_STRUCTURED_BYTES:
            return "HDF5 member over the parse limit was not checked for Keras Lambda layers"
    try:
        done = subprocess.run([sys.executable, "-c", _HDF5_CHILD,
                               *([str(source)] if source is not None else [])],
                              input=data, capture_output=True, timeout=HDF5_TIMEOUT_SECONDS,
                              check=False)
    except subprocess.TimeoutExpired:
        return "HDF5 file took too long to open; it was not checked for Keras Lambda layers"
    if done.returncode != 0:
        return "HDF5 file could not be opened to check it for Keras Lambda layers"
    try:
        configs = json.loads(done.stdout)
    except ValueError:
        return "HDF5 reader gave no answer; the file was not checked for Keras Lambda layers"
    return [c for c in configs if isinstance(c, str)]


def hdf5_code(handle: Any, context: Context) -> Iterator[Hazard | str]:
    """Keras code in an HDF5 model's `model_config` (and `training_config`) attribute; a str
    when the file could not be checked (the reason)."""
    configs = _hdf5_configs(handle, context)
    if isinstance(configs, str):
        yield configs
        return
    found: list[str] = []
    for config in configs:
        try:
            found += keras_code(json.loads(config))
        except (ValueError, RecursionError):
            yield "HDF5 model_config is not valid JSON"
    if found:
        names = tuple(dict.fromkeys(found))
        yield Hazard("code", "keras", context.member, names, names)


def protobuf_code(data: bytes, strings: list[str], context: Context) -> Iterator[Hazard]:
    """Hazards of a protobuf file by what its name says it is: a TensorFlow graph, Keras
    metadata, an ONNX model."""
    name = context.name.lower()
    if name.endswith(".onnx"):
        escaping = onnx_external_paths(data)
        if escaping:
            yield Hazard("external-path", "onnx", context.member, tuple(escaping))
        return
    if not name.endswith(".pb"):
        return
    found = tensorflow_ops(data)
    if found:
        ops = tuple(dict.fromkeys(found))
        yield Hazard("code", "tf-graph", context.member, ops, ops)
    layers = keras_metadata_code(strings)
    if layers:
        names = tuple(dict.fromkeys(layers))
        yield Hazard("code", "keras", context.member, names, names)
