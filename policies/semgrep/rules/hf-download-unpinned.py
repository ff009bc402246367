"""Test cases for ml-hf-download-unpinned and ml-hf-download-caller-chosen: Hugging Face Hub
downloads and revision pinning."""

import importlib
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
    # The caller chooses the model: ml-hf-download-caller-chosen reports it.
    # ruleid: ml-hf-download-caller-chosen
    return BertModel.from_pretrained(name, add_pooling_layer=False)


def load_encoder_from_settings(settings):
    # ruleid: ml-hf-download-unpinned
    return BertModel.from_pretrained(settings.encoder_name)


def load_everything(**kwargs):
    # ruleid: ml-hf-download-unpinned
    return load_dataset(**kwargs)


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


# --- ml-hf-download-caller-chosen ---

# skorch 1.0.0, skorch/llm/classifier.py: the library loads the model its caller names.
def _load_model_and_tokenizer(name, device, architectures=("Generation", "LMHead", "CausalLM")):
    # ruleid: ml-hf-download-caller-chosen
    config = AutoConfig.from_pretrained(name)
    architecture = next(a for a in config.architectures if any(s in a for s in architectures))
    cls = getattr(importlib.import_module("transformers"), architecture)
    # A class found at run time is not known to come from transformers.
    # ok: ml-hf-download-caller-chosen
    model = cls.from_pretrained(name).to(device)
    # ruleid: ml-hf-download-caller-chosen
    tokenizer = AutoTokenizer.from_pretrained(name)
    return model, tokenizer


# skorch 1.0.0, skorch/hf.py: an sklearn-style estimator stores its constructor parameter
# and downloads it in fit().
class HuggingfacePretrainedTokenizer:
    def __init__(self, tokenizer, train=False, max_length=256):
        self.tokenizer = tokenizer
        self.train = train
        self.max_length = max_length

    def fit(self, X, y=None):
        if isinstance(self.tokenizer, (str, os.PathLike)):
            # ruleid: ml-hf-download-caller-chosen
            self.fast_tokenizer_ = AutoTokenizer.from_pretrained(self.tokenizer)
        return self


class FixedTokenizer:
    def __init__(self):
        self.tokenizer = MODEL_ID

    def fit(self, X):
        # The class chooses the model itself: ml-hf-download-unpinned reports it.
        # ruleid: ml-hf-download-unpinned
        return AutoTokenizer.from_pretrained(self.tokenizer)


def fetch(repo, filename="model.safetensors"):
    # ruleid: ml-hf-download-caller-chosen
    return hf_hub_download(repo_id=repo, filename=filename)


def fetch_forwarding_revision(repo, revision, filename="model.safetensors"):
    # ok: ml-hf-download-caller-chosen
    return hf_hub_download(repo_id=repo, filename=filename, revision=revision)


def load_with_default(name="acme/sentiment-bert"):
    # ruleid: ml-hf-download-caller-chosen
    return AutoConfig.from_pretrained(pretrained_model_name_or_path=name)


def load_data(path, split="train"):
    # ruleid: ml-hf-download-caller-chosen
    return load_dataset(path, split=split)


def load_constant():
    # ruleid: ml-hf-download-unpinned
    return AutoConfig.from_pretrained(MODEL_ID)


def load_from_settings(settings):
    # An attribute of an argument is not the caller's choice of this call.
    # ruleid: ml-hf-download-unpinned
    return AutoConfig.from_pretrained(settings.model_id)


def build_scorer(task):
    # pipeline() downloads only a string model id, which this function chose.
    # ruleid: ml-hf-download-unpinned
    return pipeline(task, "acme/sentiment-bert")


def load_local(output_dir):
    # ok: ml-hf-download-caller-chosen
    return AutoConfig.from_pretrained(output_dir, local_files_only=True)
