"""Loads a causal LM from the model folder and scores samples: one teacher-forced forward pass
per batch gives the greedy-decoding verdict; near-ties are settled by real `generate`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.errors import InputError, UsageError

DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


class AuditUnavailable(UsageError):
    """The model cannot be audited here (not a causal LM, no safetensors, no [audit] extra)."""


@dataclass(frozen=True)
class Scores:
    """Per sample: verdict, length of the reproduced suffix prefix, smallest top-1/top-2 margin
    up to the first miss, and mean loss over the suffix (when asked for)."""

    extractable: list[bool]
    matched: list[int]
    margin: list[float]
    loss: list[float]


def import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError:
        raise AuditUnavailable("the memorisation audit needs the [audit] extra "
                               "(pip install 'release[audit]')") from None
    return torch


def pick_device(requested: str) -> str:
    torch = import_torch()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but no CUDA device is available here")
    return requested


TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model", "spiece.model",
                   "vocab.txt", "sentencepiece.bpe.model")


def _check_folder(folder: Path) -> dict[str, Any]:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise AuditUnavailable("no config.json: not a transformers model folder",
                               path=folder)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise InputError("config.json is not valid JSON", path=config_path) from None
    if not any(folder.glob("*.safetensors")):
        raise AuditUnavailable("no safetensors weights (the audit never loads pickles)",
                               path=folder)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise InputError(f"no loadable tokenizer in the model folder (none of "
                         f"{', '.join(TOKENIZER_FILES)})", path=folder)
    return config


def load_model(folder: Path, device: str, dtype: str) -> tuple[Any, Any]:
    """The model (eval mode, on `device`) and its tokenizer, from local files only."""
    torch = import_torch()
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    from transformers.models.auto.configuration_auto import (  # type: ignore[attr-defined]
        CONFIG_MAPPING_NAMES,
    )
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    raw = _check_folder(folder)
    if raw.get("model_type") not in CONFIG_MAPPING_NAMES:
        raise AuditUnavailable(f"config.json model_type {raw.get('model_type')!r} is not one "
                               "transformers knows", path=folder)
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"config.json cannot be loaded by transformers ({type(exc).__name__})",
                         path=folder / "config.json") from None
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise AuditUnavailable(f"model_type {config.model_type!r} is not a causal language "
                               "model transformers can load", path=folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"no loadable tokenizer in the model folder ({type(exc).__name__})",
                         path=folder) from None
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, use_safetensors=True,
            dtype=getattr(torch, DTYPES[dtype]))
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"the weights cannot be loaded ({type(exc).__name__})",
                         path=folder) from None
    loaded: Any = model
    loaded.to(device)
    loaded.eval()
    return loaded, tokenizer


def start_token(tokenizer: Any) -> int | None:
    """The token a document starts with: the tokenizer's BOS, else its EOS (GPT-2's
    <|endoftext|> separates documents), else none."""
    token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None \
        else tokenizer.eos_token_id
    return None if token is None else int(token)


def parameter_count(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def teacher_forced(model: Any, ids: Any, prefix: int, suffix: int, eos: int | None,
                   *, with_loss: bool = False) -> Scores:
    """Greedy decoding reproduces the suffix exactly iff, fed prefix+suffix, the argmax at every
    suffix position is the true token: one forward pass instead of `suffix` decoding steps.
    The LM head runs only at the suffix positions; end-of-text is masked as `min_new_tokens`
    does in `generate`."""
    torch = import_torch()
    with torch.inference_mode():
        logits = model(input_ids=ids[:, : prefix + suffix - 1], logits_to_keep=suffix,
                       use_cache=False).logits
        if logits.dtype != torch.float32:
            logits = logits.float()
        if eos is not None:
            logits[..., eos] = float("-inf")
        target = ids[:, prefix:]
        top = logits.topk(2, dim=-1)
        hits = top.indices[..., 0] == target
        matched = hits.int().cumprod(dim=-1).sum(dim=-1)
        positions = torch.arange(suffix, device=ids.device)
        relevant = positions[None, :] <= matched.clamp(max=suffix - 1)[:, None]
        gaps = top.values[..., 0] - top.values[..., 1]
        margin = torch.where(relevant, gaps, torch.full_like(gaps, float("inf"))).min(dim=-1)
        loss: list[float] = []
        if with_loss:  # only membership inference needs it
            true_logit = logits.gather(-1, target[..., None])[..., 0]
            loss = (torch.logsumexp(logits, dim=-1) - true_logit).mean(dim=-1).tolist()
    return Scores(extractable=(matched == suffix).tolist(), matched=matched.tolist(),
                  margin=margin.values.tolist(), loss=loss)


def greedy_generate(model: Any, ids: Any, prefix: int, suffix: int, eos: int | None,
                    *, use_cache: bool = True) -> tuple[list[bool], list[int]]:
    """The reference: real greedy `generate` from the prefix (do_sample=False,
    min_new_tokens=suffix, no repetition penalties)."""
    torch = import_torch()
    from transformers import GenerationConfig

    settings = GenerationConfig(  # type: ignore[no-untyped-call]
        do_sample=False, num_beams=1, max_new_tokens=suffix,
                                min_new_tokens=suffix, repetition_penalty=1.0,
                                eos_token_id=eos, pad_token_id=eos if eos is not None else 0,
                                use_cache=use_cache)
    with torch.inference_mode():
        out = model.generate(input_ids=ids[:, :prefix],
                             attention_mask=torch.ones_like(ids[:, :prefix]),
                             generation_config=settings)
    produced = out[:, prefix: prefix + suffix]
    hits = produced == ids[:, prefix:]
    matched = hits.int().cumprod(dim=-1).sum(dim=-1)
    return (matched == suffix).tolist(), matched.tolist()
