"""Runs the memorisation audit end to end and turns its numbers into findings and a summary."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from release import rules
from release.audit.exposure import measure_exposures
from release.audit.sampling import Sample, canary_lines, draw_samples
from release.audit.scoring import (
    AuditUnavailable,
    greedy_generate,
    import_torch,
    load_model,
    parameter_count,
    pick_device,
    teacher_forced,
)
from release.audit.untargeted import Generated, Sampled, sample_generations
from release.baseline import Baseline, baseline_for
from release.config import Config, GenerationSettings, MemorizationSettings
from release.detectors.leaks import MAX_IDS_IN_EVIDENCE
from release.errors import UsageError, display_path
from release.findings import Finding, Severity
from release.fingerprint.keys import load_key
from release.fingerprint.match import Matcher
from release.fingerprint.service import ensure_index
from release.pipeline.context import (
    CanaryExposure,
    MemorizationSummary,
    RankedSample,
    ReleaseInfo,
    ReportContext,
    UntargetedSummary,
)
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
    generations: tuple[Generated, ...] = ()  # the untargeted samples' scores, for the plot


# Near-tie margins under which a verdict is re-checked with generate: low-precision logits
# round by more than float32's epsilon (bfloat16 keeps 8 bits of mantissa: logits near 20 are
# 0.125 apart), so their ties are wider.
EPSILON_FLOOR = {"float32": 0.0, "float16": 0.1, "bfloat16": 0.5}


def near_tie_epsilon(settings: MemorizationSettings, dtype: str) -> float:
    return max(settings.epsilon, EPSILON_FLOOR.get(dtype, 0.0))


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
    epsilon = near_tie_epsilon(settings, options.dtype)
    results: dict[str, list[Any]] = {"extractable": [], "matched": [], "margin": [],
                                     "loss": []}
    rechecked = 0
    with progress.task("Auditing memorisation", len(samples), unit="samples",
                       items="tokens") as task:
        for start in range(0, len(samples), options.batch_size):
            batch = samples[start: start + options.batch_size]
            ids = torch.tensor([s.tokens for s in batch], dtype=torch.long, device=device)
            scores = teacher_forced(model, ids, prefix, suffix, eos,
                                    with_loss=settings.holdout is not None)
            extractable, matched = list(scores.extractable), list(scores.matched)
            close = [i for i, m in enumerate(scores.margin) if m < epsilon]
            if close:
                rechecked += len(close)
                verdicts, lengths = greedy_generate(model, ids[close], prefix, suffix, eos)
                for position, verdict, length in zip(close, verdicts, lengths, strict=True):
                    extractable[position], matched[position] = verdict, length
            results["extractable"] += extractable
            results["matched"] += matched
            results["margin"] += scores.margin
            results["loss"] += scores.loss
            task.advance(len(batch), len(batch) * (prefix + suffix))
    return results, rechecked


def run_audit(config: Config, options: AuditOptions | None = None, *,
              matcher: Matcher | None = None, progress: Progress | None = None) -> AuditResult:
    """Audit the model in [model].path against records of [data].sources: the prefix audit,
    canary exposure, and untargeted extraction with `matcher` (the index's, loaded or built
    here when not given). Raises
    AuditUnavailable when the model cannot be audited here and UsageError on bad input."""
    options = options or AuditOptions()
    progress = progress or SilentProgress()
    settings = config.checks.memorization
    if settings.canary_formats and settings.canaries is None:
        raise UsageError(f"[checks.memorization].canary_formats is set but canaries is not, "
                         f"so no canary can be measured; set canaries in "
                         f"{display_path(config.path)}")
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
    weights = _weights_path(config.model.path)
    result = _result(settings, weights, scored, model, device, options)
    exposures = _exposures(config, model, tokenizer, device, options, progress)
    findings = [*result.findings, *_exposure_findings(settings, weights, exposures)]
    summary = replace(result.summary, exposures=tuple(exposures),
                      max_exposure=settings.max_exposure)
    if not settings.generate.samples:
        return AuditResult(findings, summary)
    if matcher is None:
        matcher = Matcher(ensure_index(config, progress).index)
    sampled = sample_generations(model, tokenizer, matcher, settings.generate, device, progress)
    ids = {s.number: sorted({matcher.index.record_id(r)
                             for r in s.text_records | s.value_records})
           for s in sampled.samples if s.hit}
    findings += _generation_findings(settings.generate, weights, sampled, ids)
    summary = replace(summary, untargeted=_untargeted_summary(settings.generate, sampled, ids))
    return AuditResult(findings, summary, tuple(sampled.samples))


def _exposures(config: Config, model: Any, tokenizer: Any, device: str,
               options: AuditOptions, progress: Progress) -> list[CanaryExposure]:
    settings = config.checks.memorization
    if not settings.canary_formats:
        return []
    canaries = canary_lines(settings.canaries)
    exposures = measure_exposures(model, tokenizer, canaries, settings.canary_formats,
                                  settings.exposure_candidates, settings.seed, device,
                                  options.batch_size, progress)
    used = {e.format for e in exposures}
    unused = [n for n in range(1, len(settings.canary_formats) + 1) if n not in used]
    if unused:
        raise UsageError(f"[checks.memorization].canary_formats entry {unused[0]} matches no "
                         f"line of the canaries file, so it measures nothing "
                         f"({display_path(config.path)})")
    return exposures


def _exposure_findings(settings: MemorizationSettings, weights: str | None,
                       exposures: list[CanaryExposure]) -> list[Finding]:
    return [Finding(
        rules.CANARY_EXPOSED, weights,
        f"canary {e.canary}: exposure {e.exposure:.1f} bits ({e.method}, among "
        f"{e.candidates} strings of its format, a space of {e.space_bits:.1f} bits); the "
        f"limit is {settings.max_exposure:g}",
        evidence=e.to_dict(), basis=e.canary)
        for e in exposures if e.exposure > settings.max_exposure]


def _generation_findings(settings: GenerationSettings, weights: str | None, sampled: Sampled,
                         ids_by_sample: dict[int, list[str]]) -> list[Finding]:
    """One finding per generation holding training data: ids, counts and the seed that draws
    it again; never the text."""
    findings = []
    for sample in sampled.samples:
        if not sample.hit:
            continue
        ids = ids_by_sample[sample.number]
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        held = []
        if sample.text_records:
            held.append(f"{sample.matched_words} words of training text")
        if sample.sensitive_values:
            held.append(f"{sample.sensitive_values} sensitive value(s)")
        findings.append(Finding(
            rules.GENERATED_TRAINING_DATA, weights,
            f"free generation {sample.number} (prompt {sample.prompt}, seed {settings.seed}) "
            f"holds {' and '.join(held)} of training record(s) {shown}",
            member=f"generation[{sample.number}]",
            evidence={"records": ids[:MAX_IDS_IN_EVIDENCE], "record_count": len(ids),
                      "matched_words": sample.matched_words,
                      "sensitive_values": sample.sensitive_values, "sample": sample.number,
                      "prompt": sample.prompt, "seed": settings.seed,
                      "batch_seed": sample.batch_seed, "batch_size": settings.batch_size,
                      "tokens": sample.tokens},
            basis=f"generated:{settings.seed}:{sample.number}:" + ",".join(ids)))
    return findings


TOP_CANDIDATES = 10


def _untargeted_summary(settings: GenerationSettings, sampled: Sampled,
                        ids_by_sample: dict[int, list[str]]) -> UntargetedSummary:
    samples = sampled.samples
    hits = [s for s in samples if s.hit]
    ranked = sorted(samples, key=lambda s: (s.zlib_ratio, s.number))[:TOP_CANDIDATES]
    return UntargetedSummary(
        samples=len(samples), tokens=sum(s.tokens for s in samples),
        max_new_tokens=sampled.new_tokens, prompts=sampled.prompts, top_k=settings.top_k,
        temperature=settings.temperature, seed=settings.seed, batch_size=settings.batch_size,
        hits=len(hits), rate=round(len(hits) / len(samples), 6) if samples else 0.0,
        records=len({i for ids in ids_by_sample.values() for i in ids}),  # distinct ids
        text_hits=sum(1 for s in hits if s.text_records),
        sensitive_hits=sum(1 for s in hits if s.value_records),
        top=tuple(RankedSample(s.number, s.prompt, s.batch_seed, s.tokens, s.perplexity,
                               s.zlib_bytes, s.zlib_ratio, s.hit) for s in ranked))


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
        epsilon=near_tie_epsilon(settings, options.dtype),
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


def audit_for_prepare(config: Config, matcher: Matcher | None,
                      progress: Progress) -> AuditResult:
    """The audit step of `prepare`, with the scan's matcher: a model that cannot be audited
    here is a warning finding that says why, never a silent skip."""
    settings = config.checks.memorization
    try:
        return run_audit(config, AuditOptions(settings.device, settings.dtype,
                                              settings.batch_size), matcher=matcher,
                         progress=progress)
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
