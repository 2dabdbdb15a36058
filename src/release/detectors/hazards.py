"""Findings for what extraction found would run code on load or hides bytes from the checks:
pickles (RL104, or RL114 when they import something dangerous), code in model formats
(RL114), trailing data (RL115), encrypted archives (RL116) and paths out of the model folder
(RL117). Evidence names globals, ops and layers, never data."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

from release import rules
from release.extract import Hazard
from release.extract.pickles import classify_global
from release.findings import Finding

MAX_NAMES_IN_EVIDENCE = 50
_PRINTABLE_NAME = re.compile(
    r"^(?:[A-Za-z_][A-Za-z0-9_.<>-]{0,119}|\(computed\)|\(extension -?\d+\))$")
TRAINING_STATE = re.compile(
    r"(^|/)(optimizer|scheduler|scaler|rng_state[^/]*|training_args|trainer_state)\.[^/]*$")
WEIGHT_NAMES = re.compile(r"\.(bin|pt|pth|ckpt|nemo|mar)$|(^|/)(pytorch_)?model[^/]*$")
WEIGHTS_ADVICE = ("convert the weights to safetensors with model.save_pretrained(folder, "
                  "safe_serialization=True) or safetensors.torch.save_model(model, path), "
                  "which handle tied weights, and ship those instead")
STATE_ADVICE = ("it is training state (optimizer, scheduler, RNG or Trainer arguments), which "
                "a published model does not need: exclude it")
GENERIC_ADVICE = ("ship a format that holds only data instead (safetensors for tensors, JSON "
                  "for settings, ONNX or skops for classical models)")
_CODE_WORDS = {"keras": "a Keras Lambda layer", "tf-graph": "TensorFlow ops",
               "chat-template": "a chat template reaching Python internals"}
FORMAT_WORDS = {"torch": "a torch checkpoint", "torch-legacy": "a legacy torch checkpoint",
                "joblib": "a joblib file", "npy-object": "a NumPy object array",
                "pickle": "a pickle"}


def printable_name(name: str) -> str:
    """A global, op or layer name as evidence: as is when it is an identifier path, else a
    hash (a hostile file's names could be any text)."""
    if _PRINTABLE_NAME.match(name):
        return name
    return "name#" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _names(names: tuple[str, ...]) -> list[str]:
    return [printable_name(n) for n in names[:MAX_NAMES_IN_EVIDENCE]]


def _advice(path: str, member: str | None) -> str:
    where = f"{path}/{member}" if member else path
    if TRAINING_STATE.search(where.lower()) or TRAINING_STATE.search(path.lower()):
        return STATE_ADVICE
    if WEIGHT_NAMES.search(PurePosixPath(path.lower()).name):
        return WEIGHTS_ADVICE
    return GENERIC_ADVICE


def hazard_finding(path: str, hazard: Hazard, member: str | None) -> Finding:
    """The finding of one Hazard in the shipped file at `path` (`member`: the hazard's member
    as it may be reported)."""
    if hazard.kind == "pickle":
        return _pickle_finding(path, hazard, member)
    if hazard.kind == "code":
        shown = _names(hazard.dangerous or hazard.names)
        return Finding(rules.CODE_EXECUTION, path,
                       f"runs code when loaded ({_CODE_WORDS.get(hazard.format, hazard.format)}:"
                       f" {', '.join(shown)}); remove it or rebuild the model without it",
                       member=member, evidence={"format": hazard.format, "found": shown},
                       basis=f"code:{hazard.format}:{','.join(shown)}")
    if hazard.kind == "trailing-data":
        return Finding(rules.TRAILING_DATA, path,
                       f"has {hazard.length} bytes after the end of its {hazard.format} at byte "
                       f"{hazard.offset}; a loader may read them, so they are checked as a file "
                       "of their own", member=member,
                       evidence={"format": hazard.format, "offset": hazard.offset,
                                 "length": hazard.length},
                       basis=f"trailing:{hazard.format}:{hazard.offset}")
    if hazard.kind == "encrypted":
        return Finding(rules.ENCRYPTED_CONTENT, path,
                       f"is encrypted ({hazard.format}), so it cannot be checked; ship it "
                       "unencrypted or not at all", member=member,
                       evidence={"format": hazard.format}, basis=f"encrypted:{hazard.format}")
    shown = _names(hazard.names)
    return Finding(rules.EXTERNAL_PATH, path,
                   f"makes its loader read {len(hazard.names)} path(s) outside the model folder "
                   f"({hazard.format}); keep external data next to the model",
                   member=member, evidence={"format": hazard.format, "count": len(hazard.names)},
                   basis=f"external:{hazard.format}:{len(shown)}")


def _pickle_finding(path: str, hazard: Hazard, member: str | None) -> Finding:
    what = FORMAT_WORDS.get(hazard.format, f"a pickle ({hazard.format})")
    names = _names(hazard.names)
    evidence = {"format": hazard.format, "globals": names}
    if hazard.dangerous:
        dangerous = _names(hazard.dangerous)
        return Finding(rules.CODE_EXECUTION, path,
                       f"is {what} that runs code when loaded: it imports "
                       f"{', '.join(dangerous)}; remove it",
                       member=member, evidence={**evidence, "dangerous": dangerous},
                       basis=f"pickle:{','.join(sorted(dangerous))}")
    unknown = [printable_name(n) for n in hazard.names if classify_global(n) == "unknown"]
    imports = (f"imports {len(unknown)} global(s) outside the torch/numpy rebuild set: "
               f"{', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}" if unknown else
               f"imports {len(names)} global(s), all from the torch/numpy rebuild set"
               if names else "imports nothing")
    return Finding(rules.UNSAFE_SERIALIZATION, path,
                   f"is {what} ({imports}); loading a pickle can run code: "
                   f"{_advice(path, member)}",
                   member=member, evidence={**evidence, "unknown": unknown[:MAX_NAMES_IN_EVIDENCE]},
                   basis="pickle")  # as before issue 16, so baselines keep matching
