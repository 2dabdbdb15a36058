"""Pushing a staged release that passed to a git remote or the Hugging Face Hub."""
