"""Test cases for ml-hf-download-unpinned: Hugging Face Hub downloads and revision pinning."""

import os

import transformers
from datasets import load_dataset
from diffusers import StableDiffusionPipeline
from huggingface_hub import hf_hub_download, snapshot_download
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    pipeline,
)
from transformers.models.bert import BertModel

MODEL_ID = "acme/sentiment-bert"
# The commit of acme/sentiment-bert we reviewed (full 40-character SHA).
MODEL_SHA = "9b1c1f2e6a7d4c3b2a190817f6e5d4c3b2a19081"
DATASET_SHA = "0d5f7a9e3c1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f"
RELEASE = "v2.1.0"


def load_classifier():
    # ruleid: ml-hf-download-unpinned
    model = AutoModelForSequenceClassification.from_pretrained(MODEL_ID)
    # ruleid: ml-hf-download-unpinned
    tokenizer = AutoTokenizer.from_pretrained(MODEL_ID, use_fast=True)
    return model, tokenizer


def load_classifier_pinned():
    # ok: ml-hf-download-unpinned
    model = AutoModelForSequenceClassification.from_pretrained(MODEL_ID, revision=MODEL_SHA)
    # ok: ml-hf-download-unpinned
    tokenizer = AutoTokenizer.from_pretrained(MODEL_ID, revision=MODEL_SHA, use_fast=True)
    return model, tokenizer


def load_config_on_branch():
    # ruleid: ml-hf-download-unpinned
    return AutoConfig.from_pretrained(MODEL_ID, revision="main")


def load_config_on_tag():
    # ruleid: ml-hf-download-unpinned
    return transformers.AutoConfig.from_pretrained(MODEL_ID, revision=RELEASE)


def load_config_short_sha():
    # A short SHA is a string a branch name can imitate.
    # ruleid: ml-hf-download-unpinned
    return AutoConfig.from_pretrained(MODEL_ID, revision="9b1c1f2")


def load_config_literal_sha():
    # ok: ml-hf-download-unpinned
    return transformers.AutoConfig.from_pretrained(
        MODEL_ID, revision="9b1c1f2e6a7d4c3b2a190817f6e5d4c3b2a19081"
    )


def load_encoder(name):
    # ruleid: ml-hf-download-unpinned
    return BertModel.from_pretrained(name, add_pooling_layer=False)


def load_encoder_from_config(cfg):
    # A revision read from a reviewed config is trusted.
    # ok: ml-hf-download-unpinned
    return BertModel.from_pretrained(cfg["model_id"], revision=cfg["model_revision"])


def load_finetuned_local():
    # ok: ml-hf-download-unpinned
    model = AutoModelForSequenceClassification.from_pretrained("./artifacts/finetuned")
    # ok: ml-hf-download-unpinned
    tokenizer = AutoTokenizer.from_pretrained("/opt/models/sentiment-bert/tokenizer")
    return model, tokenizer


def load_from_cache_only(output_dir):
    # ok: ml-hf-download-unpinned
    return AutoModelForSequenceClassification.from_pretrained(output_dir, local_files_only=True)


def fetch_weights_file():
    # ruleid: ml-hf-download-unpinned
    return hf_hub_download(repo_id=MODEL_ID, filename="model.safetensors")


def fetch_weights_file_pinned():
    # ok: ml-hf-download-unpinned
    return hf_hub_download(repo_id=MODEL_ID, filename="model.safetensors", revision=MODEL_SHA)


def mirror_repo(cache_dir):
    # ruleid: ml-hf-download-unpinned
    return snapshot_download(MODEL_ID, cache_dir=cache_dir, allow_patterns=["*.safetensors"])


def mirror_repo_pinned(cache_dir):
    # ok: ml-hf-download-unpinned
    return snapshot_download(MODEL_ID, revision=MODEL_SHA, cache_dir=cache_dir)


def build_scorer():
    # ruleid: ml-hf-download-unpinned
    return pipeline("text-classification", model="acme/sentiment-bert", top_k=None)


def build_scorer_positional():
    # ruleid: ml-hf-download-unpinned
    return pipeline("text-classification", MODEL_ID, device=0)


def build_scorer_pinned():
    # ok: ml-hf-download-unpinned
    return pipeline("text-classification", model=MODEL_ID, revision=MODEL_SHA, top_k=None)


def build_scorer_from_objects(model, tokenizer):
    # ok: ml-hf-download-unpinned
    return pipeline("text-classification", model=model, tokenizer=tokenizer)


def build_scorer_local():
    # ok: ml-hf-download-unpinned
    return pipeline("text-classification", model="./artifacts/finetuned")


def load_reviews():
    # ruleid: ml-hf-download-unpinned
    return load_dataset("acme/product-reviews", split="train")


def load_reviews_pinned():
    # ok: ml-hf-download-unpinned
    return load_dataset("acme/product-reviews", split="train", revision=DATASET_SHA)


def load_reviews_csv():
    # ok: ml-hf-download-unpinned
    return load_dataset("csv", data_files={"train": "data/reviews.csv"}, split="train")


def load_reviews_local_dir():
    # ok: ml-hf-download-unpinned
    return load_dataset("./data/reviews", split="train")


def load_diffusion():
    # ruleid: ml-hf-download-unpinned
    return StableDiffusionPipeline.from_pretrained("acme/sd-finetune", use_safetensors=True)


def load_diffusion_pinned():
    # ok: ml-hf-download-unpinned
    return StableDiffusionPipeline.from_pretrained(
        "acme/sd-finetune", revision=os.environ["SD_REVISION"], use_safetensors=True
    )
