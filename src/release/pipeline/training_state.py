"""What training frameworks write beside a model that is not part of a model release."""

from __future__ import annotations

from fnmatch import fnmatchcase

# Names as the frameworks write them (checked against transformers' own constants in the tests):
# - transformers Trainer: checkpoint-<step>/, training_args.bin, trainer_state.json, optimizer.pt
#   (optimizer.bin), scheduler.pt, scaler.pt, rng_state.pth and rng_state_<rank>.pth,
#   pytorch_model_fsdp*, and TensorBoard logs under runs/;
# - Accelerate save_state: optimizer.bin, scheduler.bin, sampler.bin, scaler.pt,
#   random_states_<n>.pkl, custom_checkpoint_<n>.pkl, and checkpoints/ (automatic naming);
# - PyTorch Lightning: lightning_logs/ (its checkpoints/ inside);
# - DeepSpeed: global_step<n>/ and zero_to_fp32.py; experiment trackers: wandb/, mlruns/,
#   TensorBoard event files.
STATE_FOLDERS = ("checkpoint-*", "checkpoints", "global_step*", "runs", "wandb", "mlruns",
                 "lightning_logs", "pytorch_model_fsdp*")
STATE_FILES = ("training_args.bin", "trainer_state.json", "optimizer.pt", "optimizer.bin",
               "scheduler.pt", "scheduler.bin", "scaler.pt", "sampler.bin", "rng_state.pth",
               "rng_state_*.pth", "random_states_*.pkl", "custom_checkpoint_*.pkl",
               "events.out.tfevents.*", "zero_to_fp32.py")


def state_pattern(relative: str) -> str | None:
    """The built-in pattern that makes `relative` (a posix path in the model folder) training
    state: one of its folders, or its file name; None for a file that belongs to the model."""
    *folders, name = relative.split("/")
    for folder in folders:
        for pattern in STATE_FOLDERS:
            if fnmatchcase(folder, pattern):
                return pattern + "/"
    for pattern in STATE_FILES:
        if fnmatchcase(name, pattern):
            return pattern
    return None


def names_state(include_pattern: str, state: str) -> bool:
    """Whether an include pattern names the training state `state` matched (`optimizer.pt`,
    `checkpoint-500/**`), rather than catching it with a wildcard (`*.json`, `**`): one of
    the pattern's own path segments is matched by the state's pattern."""
    target = state.rstrip("/")
    return any(segment and fnmatchcase(segment, target)
               for segment in include_pattern.strip("/").split("/"))
