"""Canary exposure (Carlini et al. 2019): how far up the model ranks a planted canary among
random strings of its format, in bits; exact where the format's space can be enumerated,
estimated from a seeded sample (extrapolated in the tail) where it cannot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from release.audit.canary_format import CanaryFormat, parse_format
from release.audit.scoring import import_torch, start_token
from release.pipeline.context import CanaryExposure
from release.progress import Progress

MIN_TAIL = 10  # candidates below the canary needed to trust the sampled fraction


def log_likelihoods(model: Any, tokenizer: Any, texts: Sequence[str], device: str,
                    batch_size: int) -> list[float]:
    """The negative log-likelihood (nats) of each whole text, its first token included where
    the tokenizer has a start token to condition on."""
    torch = import_torch()
    start = start_token(tokenizer)
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    rows = [([start] if start is not None else []) + list(ids) for ids in encoded]
    result: list[float] = []
    for begin in range(0, len(rows), batch_size):
        chunk = rows[begin: begin + batch_size]
        width = max(len(r) for r in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for number, row in enumerate(chunk):
            ids[number, : len(row)] = torch.tensor(row)
            mask[number, : len(row)] = 1
        ids, mask = ids.to(device), mask.to(device)
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        true = logp.gather(-1, ids[:, 1:, None])[..., 0] * mask[:, 1:]
        result += (-true.sum(dim=1)).tolist()
    return result


def _log2_normal_cdf(z: float) -> float:
    """log2 of the standard normal CDF, accurate far into the lower tail."""
    if z > -30:
        return math.log2(max(0.5 * math.erfc(-z / math.sqrt(2)), 1e-300))
    # Mills ratio: Phi(z) ~ phi(z) / -z for z -> -inf
    return (-z * z / 2 - math.log(-z) - 0.5 * math.log(2 * math.pi)) / math.log(2)


def exposure_bits(space_bits: float, log2_fraction: float) -> float:
    """log2|R| - log2(rank), with rank = 1 + fraction * |R| for the share of the space the model
    finds likelier than the canary; between 0 and log2|R|."""
    x = space_bits + log2_fraction  # log2(fraction * |R|)
    log2_rank = x + math.log2(1 + 2.0 ** -x) if x > 0 else math.log2(1 + 2.0 ** x)
    return min(space_bits, max(0.0, space_bits - log2_rank))


def rank_canary(canary: float, candidates: Sequence[float], space_bits: float,
                exact: bool) -> tuple[float, int, str]:
    """Exposure, candidates below, and method, from the canary's negative log-likelihood and
    the candidates'. Exact: the candidates are the whole space but the canary. Sampled: the
    share below is estimated from the sample while enough fall below; in the far tail, from a
    normal fitted to the candidates' log-likelihoods (the paper fits a skew-normal)."""
    below = sum(1 for c in candidates if c < canary)
    if exact:
        return space_bits - math.log2(1 + below), below, "exact"
    if below >= MIN_TAIL:
        return exposure_bits(space_bits, math.log2(below / len(candidates))), below, "sampled"
    mean = sum(candidates) / len(candidates)
    spread = math.sqrt(sum((c - mean) ** 2 for c in candidates) / max(len(candidates) - 1, 1))
    if spread == 0:
        log2_fraction = -space_bits if canary < mean else 0.0
    else:
        log2_fraction = _log2_normal_cdf((canary - mean) / spread)
    return exposure_bits(space_bits, log2_fraction), below, "extrapolated"


def measure_exposures(model: Any, tokenizer: Any, canaries: Sequence[tuple[str, str]],
                      formats: Sequence[str], candidates: int, seed: int, device: str,
                      batch_size: int, progress: Progress) -> list[CanaryExposure]:
    """The exposure of every canary that matches one of `formats` (the first it matches).
    Candidates are drawn once per format and scored once for all its canaries."""
    parsed = [parse_format(f) for f in formats]
    by_format: dict[int, list[tuple[str, str]]] = {}
    for canary_id, text in canaries:
        for number, fmt in enumerate(parsed):
            if fmt.matches(text):
                by_format.setdefault(number, []).append((canary_id, text))
                break
    total = sum(min(f.space, candidates) + len(by_format.get(n, []))
                for n, f in enumerate(parsed) if n in by_format)
    exposures: list[CanaryExposure] = []
    with progress.task("Measuring canary exposure", total, unit="strings") as task:
        for number, members in sorted(by_format.items()):
            exposures += _one_format(model, tokenizer, parsed[number], number + 1, members,
                                     candidates, seed, device, batch_size, task)
    return exposures


def _one_format(model: Any, tokenizer: Any, fmt: CanaryFormat, number: int,
                members: list[tuple[str, str]], candidates: int, seed: int, device: str,
                batch_size: int, task: Any) -> list[CanaryExposure]:
    exact = fmt.space <= candidates
    strings = list(fmt.every()) if exact else fmt.draw(candidates, seed + number)
    scores: list[float] = []
    for begin in range(0, len(strings), batch_size * 8):
        chunk = strings[begin: begin + batch_size * 8]
        scores += log_likelihoods(model, tokenizer, chunk, device, batch_size)
        task.advance(len(chunk))
    own = log_likelihoods(model, tokenizer, [text for _, text in members], device, batch_size)
    task.advance(len(members))
    result = []
    for (canary_id, text), score in zip(members, own, strict=True):
        others = [s for s, candidate in zip(scores, strings, strict=True) if candidate != text]
        bits, below, method = rank_canary(score, others, fmt.space_bits, exact)
        result.append(CanaryExposure(canary_id, number, bits, fmt.space_bits, len(others),
                                     below, method))
    return result
