"""Tests for release.card.sections: usage, training procedure and evaluation from metadata."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from release.card.sections import (
    evaluation_results,
    pipeline_tag_of,
    training_procedure,
    usage_snippet,
)
from tests.conftest import CliResult

STATE = {
    "epoch": 3.0, "global_step": 120, "train_batch_size": 8, "max_steps": 120,
    "best_model_checkpoint": "/home/someone/secret-project/checkpoint-80",
    "trial_params": {"note": "Casey Example called about the printer"},
    "log_history": [
        {"epoch": 1.0, "learning_rate": 4.0e-4, "loss": 3.2, "step": 40},
        {"epoch": 2.0, "learning_rate": 5.0e-4, "loss": 2.1, "step": 80},
        {"epoch": 3.0, "step": 120, "train_loss": 1.7, "train_runtime": 12.5},
    ],
}


def test_pipeline_tag_and_usage_follow_config_json() -> None:
    gpt2 = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "transformers_version": "4.57.0"}
    assert pipeline_tag_of(gpt2) == "text-generation"
    snippet = usage_snippet("org/m", "v1.0", "text-generation", gpt2, None)
    assert 'pipeline("text-generation", model="org/m", revision="v1.0")' in snippet
    assert "AutoModel.from_pretrained" in usage_snippet("org/m", None, None,
                                                        {"model_type": "x",
                                                         "transformers_version": "5"}, None)
    assert "snapshot_download" in usage_snippet("org/m", None, None, {"model_type": "bow"}, None)
    assert "AutoPeftModelForCausalLM" in usage_snippet("org/m", None, None, {}, "gpt2")


def test_training_procedure_is_numbers_from_the_last_checkpoint(tmp_path: Path) -> None:
    assert training_procedure(tmp_path) is None
    for step in (40, 120):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(
            json.dumps({**STATE, "global_step": step}))
    procedure = training_procedure(tmp_path)
    assert procedure is not None and procedure.source == "checkpoint-120/trainer_state.json"
    assert (procedure.epochs, procedure.steps, procedure.batch_size) == (3.0, 120, 8)
    assert procedure.peak_learning_rate == 5.0e-4 and procedure.final_loss == 1.7
    assert "Casey" not in repr(procedure) and "secret" not in repr(procedure)


def test_evaluation_keeps_numbers_under_plain_names(tmp_path: Path) -> None:
    results = tmp_path / "eval.json"
    results.write_text(json.dumps({"eval_loss": 1.25, "eval_accuracy": 0.9, "epoch": 3,
                                   "sample": "a training record", "bad name!": 1.0,
                                   "flag": True}))
    assert evaluation_results(tmp_path, results) == [("eval_loss", 1.25),
                                                     ("eval_accuracy", 0.9), ("epoch", 3.0)]
    (tmp_path / "eval_results.json").write_text('{"eval_f1": 0.5}')
    assert evaluation_results(tmp_path, None) == [("eval_f1", 0.5)]


def test_card_states_tokenizer_and_evaluation(example_copy: Path,
                                              cli: Callable[..., CliResult]) -> None:
    config = example_copy / "release.toml"
    (example_copy / "eval.json").write_text('{"accuracy": 0.875}')
    text = config.read_text().replace('license = "Apache-2.0"\n',
                                      'license = "Apache-2.0"\ntokenizer_from_data = true\n', 1)
    text = text.replace('template = "default"', 'template = "default"\neval_results = '
                        '"eval.json"')
    config.write_text(text.replace('type = "DUA-OAI"', 'type = "DUA-OAI"\nversion = "1.0"'))
    card = cli("card", "--config", config, "-q")
    assert card.code == 0, card.err
    assert "| accuracy | 0.875 |" in card.out
    assert "**Tokenizer:** trained on the confidential data" in card.out
    assert "(DUA-OAI, version 1.0, effective 2026-01-15, term ending 2031-01-15)" in card.out
    config.write_text(text.replace('"eval.json"', '"missing.json"'))
    broken = cli("card", "--config", config)
    assert broken.code == 2 and "card.eval_results" in broken.err
