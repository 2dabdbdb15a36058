"""The model card: Hugging Face metadata, the data-use restrictions and the release checks."""
