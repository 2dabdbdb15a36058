"""The memorisation audit's speed and agreement against generate-based audits.

A GPT-2-style model of about 14M parameters (random weights; no downloads), P=32, K=32,
batch 32 on the CPU. Half the samples continue their prefix exactly as greedy decoding does
(extractable by construction), half with random tokens, so both verdicts occur.

Usage: python benchmarks/audit_speed.py [--samples 128]
"""

from __future__ import annotations

import argparse

import torch
from common import say, timed
from transformers import GPT2Config, GPT2LMHeadModel

from release.audit.scoring import greedy_generate, teacher_forced

PREFIX = SUFFIX = 32
BATCH = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=128)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(torch.get_num_threads())
    config = GPT2Config(n_layer=6, n_embd=384, n_head=6, vocab_size=8192, n_positions=128,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    params = sum(p.numel() for p in model.parameters())
    eos = None
    prefixes = torch.randint(0, config.vocab_size, (args.samples, PREFIX))
    batches = []
    for start in range(0, args.samples, BATCH):
        prefix = prefixes[start: start + BATCH]
        with torch.inference_mode():
            greedy = model.generate(input_ids=prefix, attention_mask=torch.ones_like(prefix),
                                    do_sample=False, max_new_tokens=SUFFIX,
                                    min_new_tokens=SUFFIX, pad_token_id=0)[:, PREFIX:]
        random_suffix = torch.randint(0, config.vocab_size, greedy.shape)
        half = torch.arange(prefix.shape[0])[:, None] % 2 == 0
        batches.append(torch.cat([prefix, torch.where(half, greedy, random_suffix)], dim=1))

    def ours() -> list[bool]:
        return [v for ids in batches
                for v in teacher_forced(model, ids, PREFIX, SUFFIX, eos).extractable]

    def bare() -> None:
        with torch.inference_mode():
            for ids in batches:
                model(input_ids=ids[:, : PREFIX + SUFFIX - 1], use_cache=False)

    def generate(cache: bool) -> list[bool]:
        return [v for ids in batches
                for v in greedy_generate(model, ids, PREFIX, SUFFIX, eos, use_cache=cache)[0]]

    ours()  # warm up
    t_ours, verdicts = timed(ours, repeat=3)
    t_bare, _ = timed(bare, repeat=3)
    t_cached, cached = timed(lambda: generate(True), repeat=2)
    t_uncached, uncached = timed(lambda: generate(False))
    agree = sum(a == b for a, b in zip(verdicts, cached, strict=True))
    say(f"model: {params / 1e6:.1f}M parameters, {args.samples} samples, P={PREFIX} K={SUFFIX} "
        f"batch {BATCH}, {torch.get_num_threads()} CPU threads")
    say(f"  teacher-forced audit (ours)      {t_ours:7.3f} s")
    say(f"  bare forward pass, same tokens   {t_bare:7.3f} s   ours = {t_ours / t_bare:.2f}x it")
    say(f"  generate with KV cache           {t_cached:7.3f} s   {t_cached / t_ours:.1f}x ours")
    say(f"  generate, use_cache=False        {t_uncached:7.3f} s   {t_uncached / t_ours:.1f}x ours"
        " (Pythia-style)")
    say(f"  verdicts: {sum(verdicts)} extractable; agreement with generate {agree}/"
        f"{len(verdicts)}; cached vs uncached generate agree: {cached == uncached}")


if __name__ == "__main__":
    main()
