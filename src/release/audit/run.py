"""Runs the memorisation audit end to end and turns its numbers into findings and a summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import rules
from release.audit.sampling import Sample, draw_samples
from release.audit.scoring import (
    AuditUnavailable,
    greedy_generate,
    import_torch,
    load_model,
    parameter_count,
    pick_device,
    teacher_forced,
)
from release.baseline import Baseline, baseline_for
from release.config import Config, MemorizationSettings
from release.errors import UsageError, display_path
from release.findings import Finding, Severity
from release.fingerprint.keys import load_key
from release.pipeline.context import MemorizationSummary, ReleaseInfo, ReportContext
from release.pipeline.report import Report
from release.progress import Progress, SilentProgress


@dataclass(frozen=True)
class AuditOptions:
    device: str = "auto"
    dtype: str = "float32"
    batch_size: int = 32


@dataclass
class AuditResult:
    findings: list[Finding]
    summary: MemorizationSummary


def auc(members: list[float], others: list[float]) -> float | None:
    """Probability that a training record has lower loss than a held-out one (ties count
    half): the loss-based membership-inference AUC."""
    if not members or not others:
        return None
    ranked = sorted([(v, 0) for v in members] + [(v, 1) for v in others])
    rank_sum, position = 0.0, 0
    while position < len(ranked):
        end = position
        while end < len(ranked) and ranked[end][0] == ranked[position][0]:
            end += 1
        average = (position + end + 1) / 2
        rank_sum += average * sum(1 for _, group in ranked[position:end] if group == 1)
        position = end
    n_other = len(others)
    u = rank_sum - n_other * (n_other + 1) / 2
    return round(u / (len(members) * n_other), 4)


def _weights_path(model_path: Path) -> str | None:
    weights = sorted(model_path.glob("*.safetensors"))
    return weights[0].name if weights else None


def not_audited(model_path: Path, reason: str) -> AuditResult:
    return AuditResult(
        findings=[Finding(rules.NOT_AUDITED, _weights_path(model_path),
                          f"the model was not audited for memorisation: {reason}",
                          basis="not-audited")],
        summary=MemorizationSummary.not_audited(reason))


def _score_all(model: Any, samples: list[Sample], options: AuditOptions,
               settings: MemorizationSettings, eos: int | None, device: str,
               progress: Progress) -> tuple[dict[str, list[Any]], int]:
    torch = import_torch()
    prefix, suffix = settings.prefix_tokens, settings.suffix_tokens
    results: dict[str, list[Any]] = {"extractable": [], "matched": [], "margin": [],
                                     "loss": []}
    rechecked = 0
    with progress.task("Auditing memorisation", len(samples), unit="samples") as task:
        for start in range(0, len(samples), options.batch_size):
            batch = samples[start: start + options.batch_size]
            ids = torch.tensor([s.tokens for s in batch], dtype=torch.long, device=device)
            scores = teacher_forced(model, ids, prefix, suffix, eos,
                                    with_loss=settings.holdout is not None)
            extractable, matched = list(scores.extractable), list(scores.matched)
            close = [i for i, m in enumerate(scores.margin) if m < settings.epsilon]
            if close:
                rechecked += len(close)
                verdicts, lengths = greedy_generate(model, ids[close], prefix, suffix, eos)
                for position, verdict, length in zip(close, verdicts, lengths, strict=True):
                    extractable[position], matched[position] = verdict, length
            results["extractable"] += extractable
            results["matched"] += matched
            results["margin"] += scores.margin
            results["loss"] += scores.loss
            task.advance(len(batch))
    return results, rechecked


def run_audit(config: Config, options: AuditOptions | None = None, *,
              progress: Progress | None = None) -> AuditResult:
    """Audit the model in [model].path against records of [data].sources; raises
    AuditUnavailable when the model cannot be audited here and UsageError on bad input."""
    options = options or AuditOptions()
    progress = progress or SilentProgress()
    settings = config.checks.memorization
    device = pick_device(options.device)
    model, tokenizer = load_model(config.model.path, device, options.dtype)
    key, _created = load_key(config.data.key_file, create=True)
    if not all(s.path.exists() for s in config.data.sources) or not config.data.sources:
        raise AuditUnavailable("the data sources are not readable here; audit where the data "
                               "lives")
    drawn = draw_samples(config, tokenizer, key)
    length = settings.prefix_tokens + settings.suffix_tokens
    if not drawn.samples:
        raise UsageError(f"records too short: none of {drawn.population} records has "
                         f"{length} tokens (prefix_tokens + suffix_tokens); lower them in "
                         f"[checks.memorization] of {display_path(config.path)}")
    eos = tokenizer.eos_token_id
    results, rechecked = _score_all(model, drawn.samples, options, settings, eos, device,
                                    progress)
    holdout_loss: list[float] = []
    if drawn.holdout:
        held, _ = _score_all(model, drawn.holdout, options, settings, eos, device, progress)
        holdout_loss = held["loss"]
    scored = _Scored(drawn.samples, results, rechecked, drawn.too_short, drawn.population,
                     holdout_loss, drawn.population_exact)
    return _result(settings, _weights_path(config.model.path), scored, model, device, options)


@dataclass(frozen=True)
class _Scored:
    """What the model did with the drawn records, and what the drawing set aside."""

    samples: list[Sample]
    results: dict[str, list[Any]]
    rechecked: int
    too_short: int
    population: int
    holdout_loss: list[float]
    population_exact: bool = True


def _result(settings: MemorizationSettings, weights: str | None, scored: _Scored, model: Any,
            device: str, options: AuditOptions) -> AuditResult:
    samples, results = scored.samples, scored.results
    drawn = [i for i, s in enumerate(samples) if s.origin == "sample"]
    extracted = sum(1 for i in drawn if results["extractable"][i])
    rate = extracted / len(drawn) if drawn else 0.0
    findings = _findings(settings, weights, scored, len(drawn), extracted, rate)
    histogram = [0] * (settings.suffix_tokens + 1)
    for matched in results["matched"]:
        histogram[int(matched)] += 1
    member_loss = [results["loss"][i] for i in drawn] if results["loss"] else []
    summary = MemorizationSummary(
        audited=True,
        samples=len(drawn),
        canaries=sum(1 for s in samples if s.origin == "canary"),
        named_records=sum(1 for s in samples if s.origin == "record"),
        population=scored.population,
        population_exact=scored.population_exact,
        too_short=scored.too_short,
        extractable=extracted,
        extractable_named=sum(1 for s, e in zip(samples, results["extractable"], strict=True)
                              if e and s.origin == "record"),
        extractable_canaries=sum(1 for s, e in zip(samples, results["extractable"], strict=True)
                                 if e and s.origin == "canary"),
        extractable_total=sum(1 for e in results["extractable"] if e),
        rate=round(rate, 6),
        max_extractable_rate=settings.max_extractable_rate,
        prefix_tokens=settings.prefix_tokens,
        suffix_tokens=settings.suffix_tokens,
        matched_length_histogram=tuple(histogram),
        rechecked_with_generate=scored.rechecked,
        epsilon=settings.epsilon,
        membership_auc=auc(member_loss, scored.holdout_loss),
        holdout=len(scored.holdout_loss),
        parameters=parameter_count(model),
        device=device,
        dtype=options.dtype,
    )
    return AuditResult(findings=findings, summary=summary)


_WHAT = {"sample": "sampled training record", "record": "named training record",
         "canary": "canary", "holdout": "held-out record"}


def _findings(settings: MemorizationSettings, weights: str | None, scored: _Scored,
              drawn: int, extracted: int, rate: float) -> list[Finding]:
    """Each extractable record (a warning for a sampled one while the rate is within the
    limit; a canary or a record the config names, or any record once the rate is exceeded,
    fails the gate), and the rate when it is over the limit."""
    over = rate > settings.max_extractable_rate
    findings = []
    for sample, extractable, margin in zip(scored.samples, scored.results["extractable"],
                                           scored.results["margin"], strict=True):
        if extractable:
            tolerated = sample.origin == "sample" and not over
            findings.append(Finding(
                rules.EXTRACTABLE_RECORD, weights,
                f"{_WHAT[sample.origin]} {sample.id}: greedy decoding from its first "
                f"{settings.prefix_tokens} tokens reproduces the next {settings.suffix_tokens} "
                "tokens verbatim",
                evidence={"records": [sample.id], "prefix_tokens": settings.prefix_tokens,
                          "suffix_tokens": settings.suffix_tokens,
                          "margin": round(float(margin), 4)},
                basis=sample.id, severity=Severity.WARNING if tolerated else None))
    if over:
        findings.append(Finding(
            rules.EXTRACTABLE_RATE, weights,
            f"{extracted} of {drawn} sampled training records are extractable "
            f"(rate {rate:.4f}); the limit is {settings.max_extractable_rate}",
            evidence={"extractable": extracted, "samples": drawn, "rate": round(rate, 6)},
            basis="rate"))
    return findings


def audit_for_prepare(config: Config, progress: Progress) -> AuditResult:
    """The audit step of `prepare`: a model that cannot be audited here is a warning finding
    that says why, never a silent skip."""
    settings = config.checks.memorization
    try:
        return run_audit(config, AuditOptions(settings.device, settings.dtype,
                                              settings.batch_size), progress=progress)
    except AuditUnavailable as exc:
        return not_audited(config.model.path, exc.detail)


def audit_report(config: Config, options: AuditOptions, *, baseline: Baseline | None = None,
                 progress: Progress | None = None) -> tuple[AuditResult, Report]:
    """`release audit`: the audit and its report (the release and its memorisation block),
    judged with the config's baseline and failing severity."""
    result = run_audit(config, options, progress=progress)
    context = ReportContext(release=ReleaseInfo(config.release.name, config.release.version),
                            memorization=result.summary)
    report = Report.create("audit", result.findings, [], fail_on=Severity(config.checks.fail_on),
                           baseline=baseline if baseline is not None else baseline_for(config),
                           context=context)
    return result, report
