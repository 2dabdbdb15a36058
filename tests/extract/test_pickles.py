"""The pickle walker: structure, imports and bounds, without ever unpickling."""

from __future__ import annotations

import contextlib
import io
import pickle

import pytest

from release.extract import pickles
from release.extract.pickles import (
    COMPUTED_GLOBAL,
    NotAPickle,
    PickleWalk,
    classify_global,
    probe_pickle,
    walk_pickle,
)


def walk(data: bytes) -> tuple[PickleWalk, list[str]]:
    record = PickleWalk(start=0)
    texts = list(walk_pickle(io.BytesIO(data), record))
    return record, texts


def test_stack_global_through_the_memo_is_named() -> None:
    # "os" and "system" memoised, then fetched back with BINGET before STACK_GLOBAL
    data = (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93"
            b"\x8c\x02id\x85R.")
    record, texts = walk(data)
    assert list(record.globals) == ["os.system"] and record.complete
    assert texts == ["os", "system", "id"]


def test_a_name_computed_on_the_stack_is_dangerous() -> None:
    data = b"\x80\x04\x8c\x02os)\x93)R."  # module "os", name an empty tuple
    record, _ = walk(data)
    assert list(record.globals) == [COMPUTED_GLOBAL]
    assert classify_global(COMPUTED_GLOBAL) == "dangerous"


def test_python2_names_are_read_as_python3_loads_them() -> None:
    record, _ = walk(b"c__builtin__\neval\n(S'1'\ntR.")
    assert list(record.globals) == ["builtins.eval"]
    assert classify_global("builtins.eval") == "dangerous"


@pytest.mark.parametrize(("name", "kind"), [
    ("torch._utils._rebuild_tensor_v2", "safe"), ("collections.OrderedDict", "safe"),
    ("posix.system", "dangerous"), ("os.path.join", "dangerous"),
    ("subprocess.Popen", "dangerous"), ("torch.load", "dangerous"),
    ("numpy.load", "dangerous"), ("sklearn.linear_model.LinearRegression", "unknown"),
    ("builtins.print", "unknown")])
def test_classes(name: str, kind: str) -> None:
    assert classify_global(name) == kind


def test_probe_tells_pickles_from_text() -> None:
    data = pickle.dumps({"a": [1, 2]}, protocol=0)
    assert probe_pickle(data, True, True)
    assert not probe_pickle(data, True, False)  # builds nothing, not named: stays text
    assert probe_pickle(pickle.dumps(ValueError("x"), protocol=0), True, False)
    for text in (b"Notes. More.", b"(a) first\n(b) second\n", b"I1\n.", b"class A:\n  x = 1\n"):
        assert not probe_pickle(text, True, False)


def test_the_stack_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pickles, "MAX_STACK", 100)
    with pytest.raises(NotAPickle):
        walk(b"\x80\x02" + b"N" * 1000 + b".")


def test_a_protocol_zero_line_is_never_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pickles, "MAX_LINE", 64)
    with pytest.raises(NotAPickle):
        walk(b"I" + b"1" * 10_000 + b"\n.")


def test_huge_length_prefixes_are_skipped_not_read() -> None:
    data = b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"\x00" * 16
    with pytest.raises(pickles.Truncated):
        walk(data)


def test_joblib_object_arrays_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib
    import numpy as np

    buffer = io.BytesIO()
    joblib.dump({"a": np.array([1, "x"], dtype=object), "b": np.array(["y"], dtype=object)},
                buffer)
    record, texts = walk(buffer.getvalue())
    assert record.complete and record.nested == 2 and "x" in texts
    monkeypatch.setattr(pickles, "MAX_NESTED_PICKLES", 1)
    with pytest.raises(NotAPickle):
        walk(buffer.getvalue())


@pytest.mark.slow
def test_mutated_pickles_only_ever_fail_as_not_a_pickle() -> None:
    """Random flips, cuts and insertions in real pickles of every protocol: the walker either
    finishes or says NotAPickle, never another exception (N from FUZZ_N, default 3000)."""
    import os
    import random
    from pathlib import Path

    import numpy as np

    from tests.executable_corpus import _System

    seeds = [pickle.dumps(_System(Path("/nonexistent")), protocol=p) for p in range(6)]
    seeds += [pickle.dumps({"a": [1, 2.5, "s", b"b", (None, True)], "n": np.arange(5)},
                           protocol=p) for p in range(6)]
    rng = random.Random(16)
    for _ in range(int(os.environ.get("FUZZ_N", "3000"))):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[position] = rng.randrange(256)
            elif choice < 0.7:
                del data[position: position + rng.randint(1, 8)]
            else:
                data[position:position] = rng.randbytes(rng.randint(1, 8))
            data = data or bytearray(b"N")
        with contextlib.suppress(NotAPickle):
            walk(bytes(data))
        probe_pickle(bytes(data), True, False)
