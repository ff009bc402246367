"""Test cases for ml-pickle-load-from-network: artifacts fetched over HTTP and deserialized."""

import hashlib
import io
import json
import pickle
import urllib.request

import httpx
import joblib
import numpy as np
import pandas as pd
import requests
import torch
from requests import get as http_get
from safetensors.torch import load as load_safetensors

REGISTRY = "https://models.internal.example.com"
TIMEOUT = 30


def fetch_model(url):
    blob = requests.get(url, timeout=TIMEOUT).content
    # ruleid: ml-pickle-load-from-network
    return pickle.loads(blob)


def fetch_weights(url):
    blob = requests.get(url, timeout=TIMEOUT).content
    # ok: ml-pickle-load-from-network
    return load_safetensors(blob)


def fetch_estimator(name):
    resp = requests.get(f"{REGISTRY}/models/{name}.joblib", timeout=TIMEOUT, stream=True)
    resp.raise_for_status()
    # ruleid: ml-pickle-load-from-network
    return joblib.load(resp.raw)


def fetch_metrics(name):
    resp = requests.get(f"{REGISTRY}/metrics/{name}.json", timeout=TIMEOUT)
    resp.raise_for_status()
    # ok: ml-pickle-load-from-network
    return json.loads(resp.content)


def fetch_stream(url):
    resp = http_get(url, timeout=TIMEOUT, stream=True)
    payload = resp.raw.read()
    # ruleid: ml-pickle-load-from-network
    return pickle.load(io.BytesIO(payload))


def fetch_checkpoint(url):
    resp = requests.get(url, timeout=TIMEOUT)
    # ruleid: ml-pickle-load-from-network
    return torch.load(io.BytesIO(resp.content), map_location="cpu")


def fetch_checkpoint_weights_only(url):
    resp = requests.get(url, timeout=TIMEOUT)
    # ok: ml-pickle-load-from-network
    return torch.load(io.BytesIO(resp.content), map_location="cpu", weights_only=True)


def fetch_training_table(url):
    resp = requests.get(url, timeout=TIMEOUT)
    resp.raise_for_status()
    # ok: ml-pickle-load-from-network
    return pd.read_parquet(io.BytesIO(resp.content))


def fetch_with_session_json(url, token):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    # ok: ml-pickle-load-from-network
    return session.get(url, timeout=TIMEOUT).json()


def fetch_with_session(url, token):
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        resp = session.get(url, timeout=TIMEOUT)
        # ruleid: ml-pickle-load-from-network
        return pickle.loads(resp.content)


def fetch_embeddings(url):
    with httpx.Client(timeout=TIMEOUT) as client:
        data = client.get(url).content
    # ruleid: ml-pickle-load-from-network
    return np.load(io.BytesIO(data), allow_pickle=True)


def fetch_embeddings_plain(url):
    data = httpx.get(url, timeout=TIMEOUT).content
    # ok: ml-pickle-load-from-network
    return np.load(io.BytesIO(data), allow_pickle=False)


def fetch_features(url):
    with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
        blob = resp.read()
    # ruleid: ml-pickle-load-from-network
    return pickle.loads(blob)


def fetch_features_verified(url, expected_sha256):
    blob = requests.get(url, timeout=TIMEOUT).content
    if hashlib.sha256(blob).hexdigest() != expected_sha256:
        raise ValueError(f"checksum mismatch for {url}")
    # ok: ml-pickle-load-from-network
    return load_safetensors(blob)


def upload_model(model, url):
    # ok: ml-pickle-load-from-network
    return requests.put(url, data=pickle.dumps(model), timeout=TIMEOUT)
