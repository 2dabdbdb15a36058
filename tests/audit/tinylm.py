"""Trains tiny GPT-2-style models on CPU for the audit tests (no downloads, a few seconds)."""

from __future__ import annotations

import json
import random
from pathlib import Path

VOCAB = [f"{a}{b}{c}" for a in "bdgkmprst" for b in "aeiou" for c in "lnrsx"]  # 225 words
EOS = "<|endoftext|>"
RECORD_WORDS = 80


def make_records(count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [{"id": f"rec-{i:03d}",
             "text": " ".join(rng.choice(VOCAB) for _ in range(RECORD_WORDS))}
            for i in range(count)]


DIGITS = "0123456789"


def train_model(folder: Path, records: list[dict[str, str]], repeated: list[str],
                *, repeats: int = 40, steps: int = 300, seed: int = 0,
                words: tuple[str, ...] = (), digits: bool = False,
                documents: bool = False) -> None:
    """A 2-layer GPT-2 with a word-level tokenizer, trained until the `repeated` records
    (seen `repeats` times each as often as the others) are memorised. Without repeats, as many
    unrelated records take their place, so every audited record is seen equally rarely.
    `words` join the vocabulary; with `digits`, numbers are spelled digit by digit (WordPiece
    continuations, so decoding gives the number back whole). With `documents`, every sequence
    starts with end-of-text, as GPT-2's training documents do, so the model has learnt how
    documents begin (what it writes unprompted)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    entries = [EOS, "[UNK]", *VOCAB, *(w for w in words if w not in VOCAB)]
    if digits:
        entries += [*DIGITS, *(f"##{d}" for d in DIGITS)]
    vocab = {token: number for number, token in enumerate(entries)}
    core = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS,
                                        unk_token="[UNK]")
    config = GPT2Config(vocab_size=len(vocab), n_positions=96, n_embd=96, n_layer=2, n_head=2,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config)
    by_id = {r["id"]: r["text"] for r in records}
    copies = [by_id[i] for i in repeated for _ in range(repeats)]
    unrelated = make_records(40 * 8 - len(copies), seed=seed + 1000) if len(copies) < 320 else []
    corpus = [r["text"] for r in records] + copies + [r["text"] for r in unrelated]
    start = [vocab[EOS]] if documents else []
    encoded = [(start + tokenizer(t, add_special_tokens=False)["input_ids"])[:64]
               for t in corpus]
    data = torch.tensor(encoded, dtype=torch.long)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(seed)
    model.train()
    for _ in range(steps):
        batch = data[[rng.randrange(len(encoded)) for _ in range(32)]]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def write_project(root: Path, records: list[dict[str, str]], *, prefix: int = 32,
                  suffix: int = 32, max_rate: float = 0.0, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    config = root / "release.toml"
    config.write_text(
        '[release]\nname = "m"\nversion = "1"\n[model]\npath = "model"\n'
        '[[data.sources]]\npath = "train.jsonl"\nid_field = "id"\ntext_fields = ["text"]\n'
        f"[checks.memorization]\nsamples = 1000\nprefix_tokens = {prefix}\n"
        f"suffix_tokens = {suffix}\nmax_extractable_rate = {max_rate}\n{extra}")
    return config
