"""The memorisation audit's speed against the plain passes it replaces, at real model sizes.

GPT-2 configurations of about 15M, 50M and 124M parameters (random weights, built from config;
no downloads), with a byte-level BPE tokenizer of GPT-2's vocabulary size trained here on
Python's library sources. Side by side, on the same batches:

- prefix audit (P=32, K=32): our teacher-forced pass against one bare forward pass over the
  same tokens and against greedy `generate` with the KV cache (half the samples continue their
  prefix as greedy decoding does, half at random, so both verdicts occur);
- untargeted extraction: our sampling (KV cache, the log-probability recorder, decoding) against
  plain `model.generate(do_sample=True, top_k=40)` for the same prompts and seeds, and the scan
  of the generations against a 10,000-record index, timed on its own.

With --full, `release audit`'s library call runs end to end with its defaults (prefix: 1,000
records; untargeted: 256 samples x 256 tokens) on the largest size given.

Usage: python benchmarks/audit_speed.py [--sizes 15M 124M] [--samples 128]
           [--generations 64] [--new-tokens 64] [--device cpu] [--dtype float32] [--full]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import say, stdlib_files, synthetic_records, timed, write_project
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

import release.audit.untargeted as untargeted
from release.audit.scoring import greedy_generate, teacher_forced
from release.config import GenerationSettings, load_config
from release.fingerprint.build import build_index
from release.fingerprint.index import load_index
from release.fingerprint.keys import IndexKey
from release.fingerprint.match import Matcher
from release.progress import SilentProgress

PREFIX = SUFFIX = 32
BATCH = 32
VOCAB = 50257
SIZES = {  # name: (layers, width, heads)
    "15M": (4, 256, 4),
    "50M": (8, 512, 8),
    "124M": (12, 768, 12),
}


def train_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import ByteLevelBPETokenizer

    texts = []
    total = 0
    for path in stdlib_files():
        text = path.read_text(errors="replace")
        texts.append(text)
        total += len(text)
        if total > 8_000_000:
            break
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=VOCAB, min_frequency=2,
                            special_tokens=["<|endoftext|>"])
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>")


def build_model(size: str, device: str, dtype: str) -> Any:
    layers, width, heads = SIZES[size]
    torch.manual_seed(0)
    config = GPT2Config(n_layer=layers, n_embd=width, n_head=heads, vocab_size=VOCAB,
                        n_positions=1024, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).to(device=device, dtype=getattr(torch, dtype)).eval()


def prefix_batches(model: Any, samples: int, device: str) -> list[Any]:
    prefixes = torch.randint(1, VOCAB, (samples, PREFIX), device=device)
    batches = []
    for start in range(0, samples, BATCH):
        prefix = prefixes[start: start + BATCH]
        with torch.inference_mode():
            greedy = model.generate(input_ids=prefix, attention_mask=torch.ones_like(prefix),
                                    do_sample=False, max_new_tokens=SUFFIX,
                                    min_new_tokens=SUFFIX, pad_token_id=0)[:, PREFIX:]
        random_suffix = torch.randint(1, VOCAB, greedy.shape, device=device)
        half = torch.arange(prefix.shape[0], device=device)[:, None] % 2 == 0
        batches.append(torch.cat([prefix, torch.where(half, greedy, random_suffix)], dim=1))
    return batches


def measure_prefix(model: Any, samples: int, device: str) -> dict[str, float]:
    batches = prefix_batches(model, samples, device)

    def ours() -> list[bool]:
        return [v for ids in batches
                for v in teacher_forced(model, ids, PREFIX, SUFFIX, None).extractable]

    def bare() -> None:
        with torch.inference_mode():
            for ids in batches:
                model(input_ids=ids[:, : PREFIX + SUFFIX - 1], use_cache=False)

    def cached() -> list[bool]:
        return [v for ids in batches
                for v in greedy_generate(model, ids, PREFIX, SUFFIX, None)[0]]

    ours()  # warm up
    result = {}
    result["ours"], verdicts = timed(ours, repeat=2)
    result["bare"], _ = timed(bare, repeat=2)
    result["generate"], reference = timed(cached)
    result["agree"] = sum(a == b for a, b in zip(verdicts, reference, strict=True)) / len(
        verdicts)
    return result


def plain_sampling(model: Any, tokenizer: Any, settings: GenerationSettings, device: str
                   ) -> int:
    """What a user would write: model.generate(do_sample=True, top_k=...) batch by batch, with
    the same prompts and seeds as the audit."""
    prompts = untargeted.load_prompts(settings, tokenizer)
    eos = tokenizer.eos_token_id
    tokens = 0
    for numbers, batch in untargeted._batches(settings.samples, prompts, settings.batch_size):
        torch.manual_seed(untargeted.batch_seed(settings.seed, numbers[0]))
        width = max(len(p.ids) for p in batch)
        ids = torch.tensor([[eos] * (width - len(p.ids)) + list(p.ids) for p in batch],
                           device=device)
        mask = torch.tensor([[0] * (width - len(p.ids)) + [1] * len(p.ids) for p in batch],
                            device=device)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask,
                                 do_sample=True, top_k=settings.top_k, top_p=1.0,
                                 temperature=settings.temperature,
                                 max_new_tokens=settings.max_new_tokens, pad_token_id=eos)
        tokens += int(out[:, ids.shape[1]:].numel())
    return tokens


def index_matcher(folder: Path) -> Matcher:
    key = IndexKey(hashlib.sha256(b"benchmark").digest(), "benchmark")
    config = load_config(write_project(folder, synthetic_records(10_000)))
    build_index(config, key)
    return Matcher(load_index(config.data.index, key))


def measure_sampling(model: Any, tokenizer: Any, matcher: Matcher, generations: int,
                     new_tokens: int, device: str) -> dict[str, float]:
    settings = GenerationSettings(samples=generations, max_new_tokens=new_tokens)
    texts: list[str] = []
    scan = untargeted.scan_texts

    def recording(m: Matcher, batch: list[str]) -> Any:
        texts.extend(batch)
        return scan(m, batch)

    untargeted.scan_texts = recording  # type: ignore[assignment]

    def ours() -> int:
        texts.clear()
        sampled = untargeted.sample_generations(model, tokenizer, matcher, settings, device,
                                                SilentProgress())
        return sum(s.tokens for s in sampled.samples)

    try:
        result: dict[str, float] = {}
        plain_sampling(model, tokenizer, GenerationSettings(samples=8, max_new_tokens=4),
                       device)  # warm up
        result["plain"], plain_tokens = timed(
            lambda: plain_sampling(model, tokenizer, settings, device), repeat=2)
        result["ours"], tokens = timed(ours, repeat=2)
        result["tokens"] = tokens
        result["plain_tokens"] = plain_tokens
        result["scan"], _ = timed(lambda: scan(matcher, texts), repeat=3)
    finally:
        untargeted.scan_texts = scan  # type: ignore[assignment]
    return result


def full_audit(size: str, tokenizer: Any, device: str, dtype: str) -> None:
    """`release audit` as a user runs it, on a model saved to disk, with the defaults."""
    from release.audit.run import AuditOptions, run_audit
    from release.fingerprint.service import ensure_index

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        records = [dict(r, text=" ".join([r["text"]] * 3)) for r in synthetic_records(2000)]
        config_path = write_project(root, records)
        model_dir = load_config(config_path).model.path
        build_model(size, "cpu", "float32").save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        config = load_config(config_path)
        matcher = Matcher(ensure_index(config, SilentProgress()).index)
        start = time.perf_counter()
        result = run_audit(config, AuditOptions(device=device, dtype=dtype), matcher=matcher)
        seconds = time.perf_counter() - start
        summary = result.summary
        u = summary.untargeted
        assert u is not None
        say(f"full audit, {size} ({summary.parameters / 1e6:.1f}M parameters, {device}, "
            f"{dtype}): {seconds:.0f} s for {summary.samples} prefix samples "
            f"({summary.too_short} too short) and {u.samples} free generations of up to "
            f"{u.max_new_tokens} tokens ({u.tokens} tokens, {u.hits} hits)")
        say("  " + json.dumps({"extractable": summary.extractable,
                               "rechecked": summary.rechecked_with_generate}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["15M", "124M"], choices=list(SIZES))
    parser.add_argument("--samples", type=int, default=128, help="prefix-audit samples")
    parser.add_argument("--generations", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--full", action="store_true",
                        help="also run the whole audit with its defaults on the largest size")
    args = parser.parse_args()
    say(f"{torch.get_num_threads()} CPU threads; device {args.device}, {args.dtype}; prefix: "
        f"{args.samples} samples, P={PREFIX} K={SUFFIX}, batch {BATCH}; untargeted: "
        f"{args.generations} samples x {args.new_tokens} tokens, top-k 40, batch 32")
    tokenizer = train_tokenizer()
    with tempfile.TemporaryDirectory() as tmp:
        matcher = index_matcher(Path(tmp))
        for size in args.sizes:
            model = build_model(size, args.device, args.dtype)
            params = sum(p.numel() for p in model.parameters()) / 1e6
            prefix = measure_prefix(model, args.samples, args.device)
            say(f"{size} ({params:.1f}M parameters)")
            say(f"  prefix audit (ours)            {prefix['ours']:8.2f} s   "
                f"{args.samples * (PREFIX + SUFFIX) / prefix['ours']:8.0f} tokens/s")
            say(f"  bare forward, same tokens      {prefix['bare']:8.2f} s   ours = "
                f"{prefix['ours'] / prefix['bare']:.2f}x it (target <= 1.3x)")
            say(f"  greedy generate, KV cache      {prefix['generate']:8.2f} s   "
                f"{prefix['generate'] / prefix['ours']:.2f}x ours (target >= 1.5x); "
                f"verdicts agree {prefix['agree']:.0%}")
            sampled = measure_sampling(model, tokenizer, matcher, args.generations,
                                       args.new_tokens, args.device)
            say(f"  untargeted sampling (ours)     {sampled['ours']:8.2f} s   "
                f"{sampled['tokens'] / sampled['ours']:8.0f} tokens/s")
            say(f"  plain generate(do_sample)      {sampled['plain']:8.2f} s   ours = "
                f"{sampled['ours'] / sampled['plain']:.2f}x it (target <= 1.2x)")
            say(f"  scan of the generations        {sampled['scan']:8.4f} s   "
                f"{sampled['scan'] / sampled['ours']:.2%} of ours")
            del model
    if args.full:
        full_audit(args.sizes[-1], tokenizer, args.device, args.dtype)


if __name__ == "__main__":
    main()
