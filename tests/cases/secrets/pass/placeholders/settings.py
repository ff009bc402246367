"""Credentials come from the environment; the examples below are placeholders."""

import os

HF_TOKEN = os.environ["HF_TOKEN"]
WANDB_API_KEY = os.environ.get("WANDB_API_KEY", "")
EXAMPLE_TOKEN = "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"  # the format, for the README
