"""Test cases for ml-trust-remote-code: Hugging Face model and dataset loading."""

from datasets import load_dataset
from sentence_transformers import SentenceTransformer
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, pipeline

MODEL_ID = "acme/chat-7b"
MODEL_SHA = "4f3c9e2d1b0a8f7e6d5c4b3a29180716f5e4d3c2"
CLASSIFIER_ID = "distilbert-base-uncased-finetuned-sst-2-english"
CLASSIFIER_SHA = "0e1b2c3d4f5a69788796a5b4c3d2e1f0a9b8c7d6"


def load_chat_model():
    # ruleid: ml-trust-remote-code
    model = AutoModelForCausalLM.from_pretrained(MODEL_ID, trust_remote_code=True)
    # ruleid: ml-trust-remote-code
    tokenizer = AutoTokenizer.from_pretrained(MODEL_ID, trust_remote_code=True)
    return model, tokenizer


def load_chat_model_native():
    # ok: ml-trust-remote-code
    model = AutoModelForCausalLM.from_pretrained(MODEL_ID, revision=MODEL_SHA, use_safetensors=True)
    # ok: ml-trust-remote-code
    tokenizer = AutoTokenizer.from_pretrained(MODEL_ID, revision=MODEL_SHA)
    return model, tokenizer


def load_config_remote():
    # ruleid: ml-trust-remote-code
    return AutoConfig.from_pretrained(MODEL_ID, revision=MODEL_SHA, trust_remote_code=True)


def load_config_explicit_off():
    # ok: ml-trust-remote-code
    return AutoConfig.from_pretrained(MODEL_ID, revision=MODEL_SHA, trust_remote_code=False)


def build_generator():
    # ruleid: ml-trust-remote-code
    return pipeline("text-generation", model=MODEL_ID, trust_remote_code=True, device_map="auto")


def build_classifier():
    # ok: ml-trust-remote-code
    return pipeline("text-classification", model=CLASSIFIER_ID, revision=CLASSIFIER_SHA)


def load_corpus():
    # ruleid: ml-trust-remote-code
    return load_dataset("acme/web-corpus", split="train", trust_remote_code=True)


def load_corpus_parquet():
    # ok: ml-trust-remote-code
    return load_dataset("parquet", data_files={"train": "data/train-*.parquet"}, split="train")


def load_embedder():
    # ruleid: ml-trust-remote-code
    kwargs = {"torch_dtype": "auto", "trust_remote_code": True}
    return SentenceTransformer("acme/embedder", model_kwargs=kwargs)


def load_embedder_native():
    # ok: ml-trust-remote-code
    kwargs = {"torch_dtype": "auto", "trust_remote_code": False}
    # ok: ml-trust-remote-code
    return SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", model_kwargs=kwargs)


def load_local_checkpoint(path):
    # ok: ml-trust-remote-code
    return AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
