"""Trains the example's bag-of-words note classifier with NumPy and saves it as safetensors.

Usage: python training/train.py --data data/notes.jsonl --out outputs/final
Only the `note` text and `label` are used; identifying fields are never read into the model.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

VOCAB_SIZE = 512
EPOCHS = 300
LEARNING_RATE = 0.5
SEED = 0
UNK = "[UNK]"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def build_vocab(notes: list[str]) -> dict[str, int]:
    counts = Counter(w for note in notes for w in words(note))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: VOCAB_SIZE - 1]
    return {UNK: 0, **{word: i + 1 for i, (word, _) in enumerate(ranked)}}


def featurize(notes: list[str], vocab: dict[str, int]) -> np.ndarray:
    features = np.zeros((len(notes), len(vocab)), dtype=np.float32)
    for row, note in enumerate(notes):
        for word in words(note):
            features[row, vocab.get(word, 0)] += 1.0
    return features / np.maximum(features.sum(axis=1, keepdims=True), 1.0)


def train(features: np.ndarray, targets: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    weight = rng.normal(0.0, 0.01, (classes, features.shape[1])).astype(np.float32)
    bias = np.zeros(classes, dtype=np.float32)
    onehot = np.eye(classes, dtype=np.float32)[targets]
    for _ in range(EPOCHS):
        logits = features @ weight.T + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        grad = (probs - onehot) / len(features)
        weight -= LEARNING_RATE * 40 * (grad.T @ features)
        bias -= LEARNING_RATE * grad.sum(axis=0)
    return weight, bias


def tokenizer_json(vocab: dict[str, int]) -> dict[str, object]:
    """A Hugging Face `tokenizers` WordLevel tokenizer over the learned vocabulary."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": 0, "content": UNK, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": UNK},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    records = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    notes = [r["note"] for r in records]
    labels = sorted({r["label"] for r in records})
    targets = np.array([labels.index(r["label"]) for r in records])
    vocab = build_vocab(notes)
    features = featurize(notes, vocab)
    weight, bias = train(features, targets, len(labels))
    accuracy = float(((features @ weight.T + bias).argmax(axis=1) == targets).mean())
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({"classifier.weight": weight, "classifier.bias": bias},
              str(args.out / "model.safetensors"), metadata={"format": "np"})
    config = {
        "architectures": ["BagOfWordsClassifier"],
        "model_type": "bow-logreg",
        "vocab_size": len(vocab),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
        "training_accuracy": round(accuracy, 4),
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (args.out / "tokenizer.json").write_text(json.dumps(tokenizer_json(vocab), indent=2) + "\n",
                                             encoding="utf-8")
    print(f"trained on {len(records)} records, training accuracy {accuracy:.3f}, "
          f"saved to {args.out}")


if __name__ == "__main__":
    main()
