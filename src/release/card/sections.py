"""What the card tells a Hub user: how to load the model, how it was trained and how it scored,
from config.json and training metadata (numbers and names, never data)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.regular import read_json_object

# the Hub's pipeline tag of a transformers architecture, by the end of its class name
PIPELINE_TAGS = (("ForCausalLM", "text-generation"), ("LMHeadModel", "text-generation"),
                 ("ForSequenceClassification", "text-classification"),
                 ("ForTokenClassification", "token-classification"),
                 ("ForQuestionAnswering", "question-answering"), ("ForMaskedLM", "fill-mask"),
                 ("ForConditionalGeneration", "text2text-generation"))
# the Auto class that loads a model of a pipeline tag
AUTO_CLASSES = {"text-generation": "AutoModelForCausalLM",
                "text-classification": "AutoModelForSequenceClassification",
                "token-classification": "AutoModelForTokenClassification",
                "question-answering": "AutoModelForQuestionAnswering",
                "fill-mask": "AutoModelForMaskedLM",
                "text2text-generation": "AutoModelForSeq2SeqLM"}
TRAINER_STATE = "trainer_state.json"
EVAL_RESULTS = "eval_results.json"  # what Trainer.save_metrics("eval") writes
METRIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_./@-]{0,63}$")
MAX_METRICS = 32


def pipeline_tag_of(model_config: dict[str, Any]) -> str | None:
    """The pipeline tag the architecture in config.json implies, if it names one."""
    names = model_config.get("architectures")
    for name in names if isinstance(names, list) else []:
        for ending, tag in PIPELINE_TAGS:
            if isinstance(name, str) and name.endswith(ending):
                return tag
    return None


def usage_snippet(repo_id: str, revision: str | None, pipeline_tag: str | None,
                  model_config: dict[str, Any], adapter_base: str | None) -> str:
    """Python that loads the published model with transformers (or PEFT for an adapter), or
    that downloads it when transformers does not load it."""
    pin = f', revision="{revision}"' if revision else ""
    if adapter_base is not None:
        return ("from peft import AutoPeftModelForCausalLM\n\n"
                f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_id}"{pin})\n'
                f"# the adapter loads on top of its base model, {adapter_base}")
    if "transformers_version" not in model_config:  # not written by save_pretrained
        return ("from huggingface_hub import snapshot_download\n\n"
                f'folder = snapshot_download("{repo_id}"{pin})')
    if pipeline_tag in AUTO_CLASSES:
        return ("from transformers import pipeline\n\n"
                f'pipe = pipeline("{pipeline_tag}", model="{repo_id}"{pin})')
    return ("from transformers import AutoModel, AutoTokenizer\n\n"
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}"{pin})\n'
            f'model = AutoModel.from_pretrained("{repo_id}"{pin})')


def _number(value: object) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class TrainingProcedure:
    """What trainer_state.json records about the run: counts and rates, never data."""

    epochs: float | None
    steps: int | None
    batch_size: int | None
    peak_learning_rate: float | None
    final_loss: float | None
    source: str  # the file it was read from, relative to the model folder


def _state_file(model: Path) -> Path | None:
    """trainer_state.json of the model folder, or of its last checkpoint-N folder."""
    if (model / TRAINER_STATE).is_file():
        return model / TRAINER_STATE
    checkpoints = []
    for folder in model.glob("checkpoint-*"):
        step = folder.name.removeprefix("checkpoint-")
        if step.isdigit() and (folder / TRAINER_STATE).is_file():
            checkpoints.append((int(step), folder / TRAINER_STATE))
    return max(checkpoints)[1] if checkpoints else None


def training_procedure(model: Path) -> TrainingProcedure | None:
    """The run as Trainer recorded it (trainer_state.json), if it did."""
    path = _state_file(model)
    state = read_json_object(path) if path is not None else None
    if path is None or state is None:
        return None
    history = state.get("log_history")
    entries = [e for e in history if isinstance(e, dict)] if isinstance(history, list) else []
    rates = [r for e in entries if (r := _number(e.get("learning_rate"))) is not None]
    losses = [v for e in entries if (v := _number(e.get("loss", e.get("train_loss"))))
              is not None]
    steps = _number(state.get("global_step"))
    batch = _number(state.get("train_batch_size"))
    epochs = _number(state.get("epoch"))
    return TrainingProcedure(
        epochs=round(float(epochs), 2) if epochs is not None else None,
        steps=int(steps) if steps is not None else None,
        batch_size=int(batch) if batch is not None else None,
        peak_learning_rate=float(f"{max(rates):.4g}") if rates else None,
        final_loss=round(float(losses[-1]), 4) if losses else None,
        source=path.relative_to(model).as_posix())


def evaluation_results(model: Path, given: Path | None) -> list[tuple[str, float]] | None:
    """Metric names and values from [card].eval_results, else from the eval_results.json that
    Trainer writes; only numbers under identifier-like names (a file of text cannot reach the
    card through them). None when the file given is not a JSON object."""
    data = read_json_object(given if given is not None else model / EVAL_RESULTS)
    if data is None:
        return None if given is not None else []
    results = []
    for name, value in data.items():
        number = _number(value)
        if number is not None and METRIC_NAME.match(name):
            results.append((name, round(float(number), 6)))
    return results[:MAX_METRICS]
