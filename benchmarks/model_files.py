"""Scanning a model folder of mixed model files (safetensors, torch zip checkpoints, GGUF,
ONNX, NumPy, Keras HDF5) with this tree against another revision, side by side.

Usage: python benchmarks/model_files.py [--megabytes 1024] [--baseline REV] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from common import say, synthetic_records, write_project
from safetensors.numpy import save_file

from tests.executable_corpus import pb

ROOT = Path(__file__).resolve().parents[1]
KERNELS = Path("src/release/fingerprint/kernels")
SCAN = ("import sys, time\n"
        "from release.config import load_config\n"
        "from release.pipeline.scan import ScanOptions, scan\n"
        "from pathlib import Path\n"
        "config = load_config(Path(sys.argv[1]))\n"
        "start = time.perf_counter()\n"
        "report = scan(config, ScanOptions()).report\n"
        "print(time.perf_counter() - start, len(report.findings))\n")
SHARES = {"safetensors": 0.40, "torch": 0.30, "gguf": 0.10, "onnx": 0.10, "npy": 0.05,
          "h5": 0.05}


def _floats(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(count, dtype=np.float32)


def _torch_zip(path: Path, payload: int) -> None:
    """A torch zip checkpoint as torch writes one: data.pkl naming float storages."""
    import torch

    tensors = {f"layer{i}.weight": torch.from_numpy(_floats(payload // 16, i)) for i in range(4)}
    torch.save(tensors, path)


def _gguf(path: Path, payload: int) -> None:
    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    header = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + string("general.name") + \
        struct.pack("<I", 8) + string("bench")
    header += string("w") + struct.pack("<I", 1) + struct.pack("<Q", payload // 4) + \
        struct.pack("<IQ", 0, 0)
    with path.open("wb") as handle:
        handle.write(header + bytes(-len(header) % 32))
        handle.write(_floats(payload // 4, 7).tobytes())


def _onnx(path: Path, payload: int) -> None:
    tensor = pb((8, "w"), (9, _floats(payload // 4, 3).tobytes()))
    path.write_bytes(pb((7, pb((2, "graph"), (5, tensor)))))


def _h5(path: Path, payload: int) -> None:
    import h5py

    with h5py.File(path, "w") as model:
        model.attrs["keras_version"] = "2.15.0"
        model.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {
            "layers": [{"class_name": "Dense", "config": {"name": "dense"}}]}})
        model.create_dataset("model_weights/dense/kernel", data=_floats(payload // 4, 5))


def write_models(folder: Path, total: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"w": _floats(int(total * SHARES["safetensors"]) // 4, 1)},
              str(folder / "model.safetensors"))
    _torch_zip(folder / "pytorch_model.bin", int(total * SHARES["torch"]))
    _gguf(folder / "model.gguf", int(total * SHARES["gguf"]))
    _onnx(folder / "model.onnx", int(total * SHARES["onnx"]))
    buffer = io.BytesIO()
    np.save(buffer, _floats(int(total * SHARES["npy"]) // 4, 2))
    with zipfile.ZipFile(folder / "embeddings.npz", "w") as archive:
        archive.writestr("embeddings.npy", buffer.getvalue())
    _h5(folder / "tf_model.h5", int(total * SHARES["h5"]))


def tree_of(revision: str, scratch: Path) -> Path:
    """A checkout of `revision` with its kernels built ("working-tree": this tree)."""
    if revision == "working-tree":
        return ROOT
    target = scratch / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(target),
                    revision], check=True, capture_output=True)
    kernels = target / KERNELS
    subprocess.run(["cc", "-O3", "-std=c99", "-fPIC", "-shared", "-o", "_kernels.so",
                    "_kernels.c"], cwd=kernels, check=True)
    return target


def run_scan(tree: Path, config: Path) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    done = subprocess.run([sys.executable, "-c", SCAN, str(config)], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the scan with {tree} failed:\n{done.stderr[-2000:]}")
    seconds, findings = done.stdout.split()
    return float(seconds), int(findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--baseline", default="8b3db37",
                        help="revision to compare with (default: the tree before issue 16)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        config = write_project(scratch / "project", synthetic_records(2000))
        write_models(scratch / "project" / "model", args.megabytes << 20)
        size = sum(p.stat().st_size for p in (scratch / "project" / "model").iterdir())
        baseline = tree_of(args.baseline, scratch)
        try:
            trees = {"baseline": baseline, "this tree": ROOT}
            for tree in trees.values():
                run_scan(tree, config)  # builds the index and warms the page cache
            times: dict[str, list[float]] = {name: [] for name in trees}
            findings: dict[str, int] = {}
            for _ in range(args.repeat):
                for name, tree in trees.items():
                    seconds, findings[name] = run_scan(tree, config)
                    times[name].append(seconds)
        finally:
            if baseline != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(baseline)], check=False, capture_output=True)
                shutil.rmtree(baseline, ignore_errors=True)
    say(f"{size / (1 << 20):.0f} MiB of model files, {args.repeat} warm runs each")
    for name, values in times.items():
        say(f"  {name:>10}: median {sorted(values)[len(values) // 2]:.2f} s "
            f"(runs {', '.join(f'{v:.2f}' for v in values)}), {findings[name]} findings")
    ratio = sorted(times["this tree"])[args.repeat // 2] / sorted(times["baseline"])[
        args.repeat // 2]
    say(f"  this tree / baseline: {ratio:.2f}x (target: at most 1.20x)")


if __name__ == "__main__":
    main()
