"""Untargeted extraction: free samples of the model, scanned with the leak matcher for training
text and sensitive values, and ranked by their perplexity/zlib ratio (Carlini et al. 2021)."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

from release.audit.scoring import import_torch, start_token
from release.config import GenerationSettings
from release.errors import InputError, UsageError, display_path
from release.fingerprint.match import Matcher
from release.progress import Progress
from release.regular import read_regular

# Openings of ordinary prose, letters and notes: generic, so what follows them is the model's
# own choice. They are not training data, and whatever they share with it is under any guarantee.
BUILTIN_OPENINGS = ("The", "A", "In", "This", "I", "We", "It", "Dear", "Hello", "Thank you",
                    "Please", "Note:", "Summary:", "Name:")
MAX_PROMPTS = 10_000
MAX_PROMPT_BYTES = 4096


@dataclass(frozen=True)
class Prompt:
    """A prompt by its number (0: the empty prompt, where the tokenizer has a start token) and
    its token ids, start token included."""

    number: int
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Generated:
    """One free generation: where it came from (enough to draw it again), what the model
    thought of it, and what of the training data it holds. No text."""

    number: int
    prompt: int
    batch_seed: int
    tokens: int
    log_perplexity: float  # mean negative log-likelihood per generated token, in nats
    zlib_bytes: int  # of the text, compressed
    matched_words: int  # the longest run of training text in it
    text_records: frozenset[int]
    sensitive_values: int
    value_records: frozenset[int]

    @property
    def hit(self) -> bool:
        return bool(self.text_records or self.value_records)

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.log_perplexity, 700.0))

    @property
    def zlib_ratio(self) -> float:
        """log-perplexity over zlib entropy: low for text the model finds likely but that is not
        merely repetitive, where memorised samples rank first."""
        if not self.tokens:
            return math.inf
        return self.log_perplexity / max(self.zlib_bytes, 1)


@dataclass(frozen=True)
class Sampled:
    samples: list[Generated]
    new_tokens: int  # the most tokens one sample may have (max_new_tokens, within the context)
    prompts: int


def load_prompts(settings: GenerationSettings, tokenizer: Any) -> list[Prompt]:
    """The prompts file's lines, or the empty prompt and BUILTIN_OPENINGS; each starts with
    the tokenizer's start token (GPT-2's <|endoftext|>) where it has one."""
    if settings.prompts is not None:
        try:
            lines = read_regular(settings.prompts).decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise InputError("the prompts file is not UTF-8 text",
                             path=settings.prompts) from None
        except OSError as exc:
            raise InputError(f"cannot read the prompts: {exc.strerror}",
                             path=settings.prompts) from None
        texts = [line for line in lines if line.strip()]
        if not texts:
            raise UsageError(f"[checks.memorization.generate].prompts "
                             f"{display_path(settings.prompts)} holds no prompt")
        if len(texts) > MAX_PROMPTS or any(len(t.encode()) > MAX_PROMPT_BYTES for t in texts):
            raise UsageError(f"[checks.memorization.generate].prompts: at most {MAX_PROMPTS} "
                             f"prompts of at most {MAX_PROMPT_BYTES} bytes each")
    else:
        texts = ["", *BUILTIN_OPENINGS]
    start = start_token(tokenizer)
    prompts = []
    for number, text in enumerate(texts):
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []
        if start is not None:
            ids.insert(0, start)
        if ids:
            prompts.append(Prompt(number, tuple(int(i) for i in ids)))
    if not prompts:
        raise UsageError("the tokenizer has no start token, so the empty prompt cannot be "
                         "sampled; give [checks.memorization.generate].prompts")
    return prompts


def context_length(model: Any) -> int | None:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _recorder(torch: Any) -> Any:
    """A logits processor that keeps, for every step, the log-probability the model gave the
    token that was then drawn: read from the raw logits (before temperature and top-k), one
    step's distribution at a time, so no step's logits are kept."""
    from transformers import LogitsProcessor

    class Recorder(LogitsProcessor):
        def __init__(self) -> None:
            self.previous: Any = None
            self.steps: list[Any] = []

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if self.previous is not None:
                self.steps.append(self.previous.gather(1, input_ids[:, -1:])[:, 0])
            self.previous = torch.log_softmax(scores.float(), dim=-1)
            return scores

        def finish(self, last: Any) -> Any:
            """Steps x batch log-probabilities, given the last token drawn."""
            if self.previous is not None:
                self.steps.append(self.previous.gather(1, last[:, None])[:, 0])
                self.previous = None
            return torch.stack(self.steps) if self.steps else None

    return Recorder()


def _generation_config(settings: GenerationSettings, new_tokens: int, eos: int | None,
                       pad: int) -> Any:
    from transformers import GenerationConfig

    return GenerationConfig(  # type: ignore[no-untyped-call]
        do_sample=True, top_k=settings.top_k, top_p=1.0, temperature=settings.temperature,
        num_beams=1, max_new_tokens=new_tokens, repetition_penalty=1.0,
        eos_token_id=eos, pad_token_id=pad, use_cache=True)


@dataclass(frozen=True)
class _Found:
    words: int
    text_records: frozenset[int]
    values: int
    value_records: frozenset[int]


def scan_texts(matcher: Matcher, texts: list[str]) -> list[_Found]:
    """What each text holds of the training data: its longest shared run, the records of
    its runs, and its sensitive values and their records."""
    text_hits, sensitive_hits = matcher.match(texts)
    words = [0] * len(texts)
    text_records: list[set[int]] = [set() for _ in texts]
    values = [0] * len(texts)
    value_records: list[set[int]] = [set() for _ in texts]
    for hit in text_hits:
        words[hit.piece] = max(words[hit.piece], hit.end - hit.start)
        text_records[hit.piece] |= hit.records
    seen: set[tuple[int, int]] = set()
    for value in sensitive_hits:
        if (value.piece, value.start) not in seen:  # one value, however many records hold it
            seen.add((value.piece, value.start))
            values[value.piece] += 1
        value_records[value.piece].add(value.record)
    return [_Found(w, frozenset(t), v, frozenset(r))
            for w, t, v, r in zip(words, text_records, values, value_records, strict=True)]


def _batches(samples: int, prompts: list[Prompt], batch_size: int
             ) -> list[tuple[list[int], list[Prompt]]]:
    """Sample n goes to prompt n mod len(prompts); batches hold consecutive samples."""
    return [(list(range(start, min(start + batch_size, samples))),
             [prompts[n % len(prompts)] for n in range(start, min(start + batch_size, samples))])
            for start in range(0, samples, batch_size)]


def _left_padded(torch: Any, prompts: list[Prompt], pad: int, device: str
                 ) -> tuple[Any, Any]:
    """Prompts of a batch as one tensor, padded on the left, and its attention mask."""
    width = max(len(p.ids) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt.ids):] = torch.tensor(prompt.ids)
        mask[row, width - len(prompt.ids):] = 1
    return ids.to(device), mask.to(device)


def batch_seed(seed: int, first_sample: int) -> int:
    """The torch seed of the batch whose first sample is `first_sample`."""
    return (seed * 1_000_003 + first_sample) % (1 << 63)


def sample_generations(model: Any, tokenizer: Any, matcher: Matcher,
                       settings: GenerationSettings, device: str,
                       progress: Progress) -> Sampled:
    """Draw `settings.samples` generations in batches with the KV cache, and scan each."""
    torch = import_torch()
    from transformers import LogitsProcessorList

    prompts = load_prompts(settings, tokenizer)
    longest = max(len(p.ids) for p in prompts)
    context = context_length(model)
    new_tokens = settings.max_new_tokens
    if context is not None:
        new_tokens = min(new_tokens, context - longest)
        if new_tokens < 1:
            raise UsageError(f"the longest prompt has {longest} tokens, as many as the model's "
                             f"context of {context}; shorten [checks.memorization.generate]"
                             ".prompts")
    eos = tokenizer.eos_token_id
    pad = eos if eos is not None else (tokenizer.pad_token_id or 0)
    generation = _generation_config(settings, new_tokens, eos, pad)
    samples: list[Generated] = []
    with progress.task("Sampling generations", settings.samples, unit="samples",
                       items="tokens") as task:
        for numbers, batch_prompts in _batches(settings.samples, prompts, settings.batch_size):
            seed = batch_seed(settings.seed, numbers[0])
            torch.manual_seed(seed)
            ids, mask = _left_padded(torch, batch_prompts, pad, device)
            recorder = _recorder(torch)
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask,
                                     generation_config=generation,
                                     logits_processor=LogitsProcessorList([recorder]))
            new = out[:, ids.shape[1]:]
            logprobs = recorder.finish(new[:, -1]) if new.shape[1] else None
            generated = _summarise(torch, new, logprobs, eos)
            width = ids.shape[1]
            texts = tokenizer.batch_decode(  # each prompt without its padding, and what followed
                [row[width - len(p.ids):].tolist() for row, p in zip(out, batch_prompts,
                                                                     strict=True)],
                skip_special_tokens=True)
            found = scan_texts(matcher, texts)
            for row, number in enumerate(numbers):
                count, log_ppl = generated[row]
                samples.append(Generated(
                    number, batch_prompts[row].number, seed, count, log_ppl,
                    len(zlib.compress(texts[row].encode("utf-8"))), found[row].words,
                    found[row].text_records, found[row].values, found[row].value_records))
            task.advance(len(numbers), sum(count for count, _ in generated))
    return Sampled(samples, new_tokens, len(prompts))


def _summarise(torch: Any, new: Any, logprobs: Any, eos: int | None
               ) -> list[tuple[int, float]]:
    """Per row: the tokens generated before the first end-of-text, and their mean negative
    log-likelihood (nats)."""
    if logprobs is None:
        return [(0, 0.0)] * new.shape[0]
    steps = new.shape[1]
    if eos is not None:
        ended = (new == eos).int()
        before = ended.cumsum(dim=1) == 0
    else:
        before = torch.ones_like(new, dtype=torch.bool)
    counts = before.sum(dim=1)
    totals = (logprobs.T[:, :steps] * before).sum(dim=1)
    result = []
    for count, total in zip(counts.tolist(), totals.tolist(), strict=True):
        result.append((int(count), -total / count if count else 0.0))
    return result
