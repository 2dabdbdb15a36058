"""A corpus of executable and benign model files built with the attack techniques of issue 16:
pickles of every protocol under honest and innocent names and inside every wrapper, Keras and
TensorFlow code, ONNX external data, chat templates. Each malicious payload would `touch` a
canary file; nothing here ever loads one. Shared by the tests and benchmarks/compare_scanners."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import subprocess
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

PROTOCOLS = (0, 1, 2, 4, 5)


@dataclass(frozen=True)
class Entry:
    """A corpus file, relative to the corpus folder, and what a scan must say about it:
    "code" (RL114), "pickle" (RL104, not RL114) or "clean" (neither, nor unreadable)."""

    path: str
    expect: str
    member: str | None = None  # where in the file the finding must point (None: the file)


class _System:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[object, ...]:
        return os.system, (f"touch {self.canary}",)


class _Eval:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[object, ...]:
        return eval, (f"__import__('os').system('touch {self.canary}')",)


class _Popen:
    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[object, ...]:
        return subprocess.Popen, (["touch", str(self.canary)],)


PAYLOADS: dict[str, Callable[[Path], object]] = {"system": _System, "eval": _Eval,
                                                  "popen": _Popen}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _seven_zip(members: dict[str, bytes], password: str | None = None) -> bytes:
    import py7zr

    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w", password=password) as archive:
        if password:
            archive.set_encrypted_header(True)
        for name, data in members.items():
            archive.writestr(data, name)
    return buffer.getvalue()


def encrypted_zip(name: str, data: bytes) -> bytes:
    """A zip whose one member is marked encrypted (ZipCrypto's flag bit), as a
    password-protected zip is; the bytes behind the flag are the tool's business, not ours."""
    raw = bytearray(_zip({name: data}))
    local = raw.find(b"PK\x03\x04")
    central = raw.find(b"PK\x01\x02")
    raw[local + 6] |= 1
    raw[central + 8] |= 1
    return bytes(raw)


def varint(value: int) -> bytes:
    """A protobuf (and leveldb) base-128 varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb(*fields: tuple[int, int | bytes | str]) -> bytes:
    """A protobuf message from (field number, value): ints as varints, the rest as bytes."""
    out = bytearray()
    for number, value in fields:
        if isinstance(value, int):
            out += varint(number << 3) + varint(value)
        else:
            raw = value.encode() if isinstance(value, str) else value
            out += varint(number << 3 | 2) + varint(len(raw)) + raw
    return bytes(out)


def saved_model(ops: list[str], extra_nodes: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    nodes = [pb((1, f"node{i}"), (2, op)) for i, op in enumerate(ops)] + list(extra_nodes)
    graph = pb(*[(1, node) for node in nodes])
    meta = pb((1, pb((1, "serve"))), (2, graph))
    return pb((1, 1), (2, meta))


def onnx_model(location: str | None) -> bytes:
    tensor = pb((1, 4), (2, 1), (8, "weight"))  # dims, data_type FLOAT, name
    if location is not None:
        tensor += pb((13, pb((1, "location"), (2, location))), (14, 1))
    else:
        tensor += pb((9, struct.pack("<4f", 1, 2, 3, 4)))
    graph = pb((1, pb((1, "x"), (2, "y"), (4, "Identity"))), (2, "g"), (5, tensor))
    return pb((1, 8), (7, graph), (8, pb((2, 17))))


def _sstable(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A leveldb table with one data block, as TensorFlow writes checkpoint indexes."""
    def block(items: list[tuple[bytes, bytes]]) -> bytes:
        body = b"".join(varint(0) + varint(len(k)) + varint(len(v)) + k + v
                        for k, v in items)
        return body + struct.pack("<II", 0, 1)

    data = block(entries)
    out = data + b"\x00\x00\x00\x00\x00"
    meta = block([])
    meta_offset = len(out)
    out += meta + b"\x00\x00\x00\x00\x00"
    index = block([(entries[-1][0], varint(0) + varint(len(data)))])
    index_offset = len(out)
    out += index + b"\x00\x00\x00\x00\x00"
    handles = varint(meta_offset) + varint(len(meta)) + varint(index_offset) + \
        varint(len(index))
    return out + handles.ljust(40, b"\x00") + b"\x57\xfb\x80\x8b\x24\x75\x47\xdb"


def tf_checkpoint(folder: Path) -> None:
    """variables.index and variables.data-00000-of-00001 with a float and an int tensor."""
    floats = np.arange(8, dtype="<f4").tobytes()
    ints = np.array([3, 1, 4], dtype="<i8").tobytes()
    header = pb((1, 1), (3, pb((1, 1))))
    entries = [(b"", header),
               (b"dense/bias/.ATTRIBUTES/VARIABLE_VALUE",
                pb((1, 1), (2, pb((2, pb((1, 8))))), (3, 0), (4, 0), (5, len(floats)))),
               (b"step/.ATTRIBUTES/VARIABLE_VALUE",
                pb((1, 9), (2, pb((2, pb((1, 3))))), (3, 0), (4, len(floats)), (5, len(ints))))]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "variables.index").write_bytes(_sstable(entries))
    (folder / "variables.data-00000-of-00001").write_bytes(floats + ints)


def gguf(template: str) -> bytes:
    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    out = b"GGUF" + struct.pack("<IQQ", 3, 0, 2)
    out += string("general.name") + struct.pack("<I", 8) + string("tiny")
    out += string("tokenizer.chat_template") + struct.pack("<I", 8) + string(template)
    return out


def keras_config(lambda_layer: bool) -> dict[str, object]:
    layers: list[dict[str, object]] = [
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense"}}]
    if lambda_layer:
        layers.append({"module": "keras.layers", "class_name": "Lambda", "config": {
            "name": "payload", "function": {"class_name": "__lambda__", "config": {
                "code": "4wEAAAAAAAAA", "defaults": None, "closure": None}}}})
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": "sequential", "layers": layers}}


def _write(root: Path, path: str, data: bytes, entries: list[Entry], expect: str,
           member: str | None = None) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    entries.append(Entry(path, expect, member))


def _wrapped(root: Path, stem: str, payload: bytes, expect: str, entries: list[Entry]) -> None:
    """One pickle inside every wrapper, under innocent member names."""
    _write(root, f"zip/{stem}.zip", _zip({"docs/readme.txt": payload}), entries, expect,
           "docs/readme.txt")
    _write(root, f"tar/{stem}.tar", _tar({"README": payload}), entries, expect, "README")
    _write(root, f"targz/{stem}.tar.gz", _tar({"notes/a.txt": payload}, "w:gz"), entries,
           expect, "notes/a.txt")
    _write(root, f"gzip/{stem}.gz", gzip.compress(payload), entries, expect)
    _write(root, f"7z/{stem}.7z", _seven_zip({"weights": payload}), entries, expect, "weights")
    _write(root, f"appended/{stem}.zip", _zip({"a.txt": b"hello"}) + payload, entries, expect,
           None if payload[:2] == b"PK" else "(bytes after the zip")
    _write(root, f"trailing/{stem}.txt", payload + b"\nplain words after the pickle\n",
           entries, expect)


def _torch_files(root: Path, canary: Path, entries: list[Entry]) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save({"weight": torch.ones(2, 2), "ids": torch.arange(3)}, buffer)
    benign = buffer.getvalue()
    _write(root, "torch/pytorch_model.bin", benign, entries, "pickle", "archive/data.pkl")
    _wrapped(root, "torch-benign", benign, "pickle", entries)
    buffer = io.BytesIO()
    torch.save({"weight": torch.ones(2), "hook": _System(canary / "torch-zip")}, buffer)
    _write(root, "torch/innocent.dat", buffer.getvalue(), entries, "code")
    buffer = io.BytesIO()
    torch.save({"weight": torch.ones(2)}, buffer, _use_new_zipfile_serialization=False)
    _write(root, "torch/legacy.pt", buffer.getvalue(), entries, "pickle")
    evil = pickle.dumps(_System(canary / "legacy-tar"), protocol=2)
    _write(root, "torch/legacy-tar.ckpt",
           _tar({"sys_info": pickle.dumps({"little_endian": True}, protocol=2),
                 "pickle": evil, "storages": pickle.dumps(0, protocol=2),
                 "tensors": pickle.dumps(0, protocol=2)}), entries, "code", "pickle")
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2), "x": _Eval(canary / "nemo")}, buffer)
    _write(root, "torch/model.nemo",
           _tar({"./model_config.yaml": b"name: tiny\n",
                 "./model_weights.ckpt": buffer.getvalue()}), entries, "code",
           "./model_weights.ckpt")


def _pickles(root: Path, canary: Path, entries: list[Entry]) -> None:
    for protocol in PROTOCOLS:
        for name, payload in PAYLOADS.items():
            stem = f"p{protocol}-{name}"
            data = pickle.dumps(payload(canary / stem), protocol=protocol)
            _write(root, f"named/{stem}.pkl", data, entries, "code")
            _write(root, f"unnamed/{stem}.txt", data, entries, "code")
            _write(root, f"unnamed/{stem}", data, entries, "code")
        data = pickle.dumps(_System(canary / f"wrapped-p{protocol}"), protocol=protocol)
        _wrapped(root, f"p{protocol}-system", data, "code", entries)


def _benign_pickles(root: Path, entries: list[Entry]) -> None:
    import joblib

    objects = np.array([{"label": "cat"}, "dog", 3], dtype=object)
    buffer = io.BytesIO()
    np.save(buffer, objects, allow_pickle=True)
    _write(root, "numpy/objects.npy", buffer.getvalue(), entries, "pickle")
    _wrapped(root, "numpy-objects", buffer.getvalue(), "pickle", entries)
    buffer = io.BytesIO()
    joblib.dump({"coef": np.arange(6.0).reshape(2, 3), "names": objects}, buffer)
    _write(root, "joblib/model.joblib", buffer.getvalue(), entries, "pickle")
    _write(root, "joblib/renamed.bin", buffer.getvalue(), entries, "pickle")
    _wrapped(root, "joblib", buffer.getvalue(), "pickle", entries)
    buffer = io.BytesIO()
    joblib.dump({"coef": np.arange(6.0)}, buffer, compress=3)
    _write(root, "joblib/compressed.dat", buffer.getvalue(), entries, "pickle")


def _keras_and_tensorflow(root: Path, entries: list[Entry]) -> None:
    for flag, expect in ((True, "code"), (False, "clean")):
        stem = "lambda" if flag else "clean"
        _write(root, f"keras/{stem}.keras",
               _zip({"config.json": json.dumps(keras_config(flag)).encode(),
                     "metadata.json": b'{"keras_version": "3.5.0"}'}), entries, expect,
               "config.json" if flag else None)
        try:
            import h5py
        except ImportError:
            continue
        target = root / f"h5/{stem}_model.h5"
        target.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(target, "w") as model:
            model.attrs["model_config"] = json.dumps(keras_config(flag))
            model.attrs["keras_version"] = "2.15.0"
            model.create_dataset("model_weights/dense/kernel", data=np.ones((2, 2), "f4"))
        entries.append(Entry(f"h5/{stem}_model.h5", expect))
    const = pb((1, "path"), (2, "Const"), (5, pb((1, "value"), (2, pb((8, pb((8, b"/etc/x"))))))))
    save = pb((1, "save"), (2, "SaveV2"), (3, "path"))
    for stem, ops, nodes, expect in (("readfile", ["Placeholder", "ReadFile"], [], "code"),
                                     ("save-outside", ["Placeholder"], [const, save], "code"),
                                     ("clean", ["Placeholder", "MatMul", "SaveV2"], [],
                                      "clean")):
        _write(root, f"savedmodel/{stem}/saved_model.pb", saved_model(ops, nodes), entries,
               expect)
    metadata = pb((1, pb((2, 1), (3, "root"), (4, "_tf_keras_sequential"),
                         (5, json.dumps(keras_config(True))))))
    _write(root, "savedmodel/readfile/keras_metadata.pb", metadata, entries, "code")
    tf_checkpoint(root / "savedmodel/clean/variables")
    entries += [Entry("savedmodel/clean/variables/variables.index", "clean"),
                Entry("savedmodel/clean/variables/variables.data-00000-of-00001", "clean")]


def _other_formats(root: Path, entries: list[Entry]) -> None:
    _write(root, "onnx/escaping.onnx", onnx_model("../../etc/passwd"), entries, "external")
    _write(root, "onnx/clean.onnx", onnx_model(None), entries, "clean")
    _write(root, "gguf/escaping.gguf",
           gguf("{{ cycler.__init__.__globals__.os.popen('id').read() }}"), entries, "code")
    _write(root, "gguf/clean.gguf",
           gguf("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"),
           entries, "clean")
    save_file({"w": np.ones((2, 2), "f4")}, str(root / "clean.safetensors"))
    entries.append(Entry("clean.safetensors", "clean"))
    buffer = io.BytesIO()
    np.save(buffer, np.arange(12, dtype=np.int64))
    _write(root, "arrays/weights-bundle.tar", _tar({"ids.npy": buffer.getvalue()}), entries,
           "clean")
    _write(root, "archives/secret.7z", _seven_zip({"a.txt": b"x"}, password="pw"), entries,
           "encrypted")
    _write(root, "archives/secret.zip", encrypted_zip("model.pt", b"\x00" * 64), entries,
           "encrypted", "model.pt")


def build_corpus(root: Path, canary: Path) -> list[Entry]:
    """Write the corpus under `root`; payloads would touch files in `canary`."""
    entries: list[Entry] = []
    _pickles(root, canary, entries)
    _benign_pickles(root, entries)
    _torch_files(root, canary, entries)
    _keras_and_tensorflow(root, entries)
    _other_formats(root, entries)
    return entries
