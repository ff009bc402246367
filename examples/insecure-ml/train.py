"""A training script with every classic ML-repo security mistake. Do not run."""

import pickle
import subprocess

import requests
import torch
import yaml
from transformers import AutoModel

DB_PASSWORD = "hunter2-prod"


def load_config(path):
    with open(path) as handle:
        return yaml.load(handle, Loader=yaml.Loader)


def fetch_model(url):
    blob = requests.get(url, verify=False, timeout=30).content
    return pickle.loads(blob)


def load_checkpoint(path):
    return torch.load(path)


def load_remote(name):
    return AutoModel.from_pretrained(name, trust_remote_code=True)


def export(name):
    subprocess.run(f"tar czf {name}.tgz model/", shell=True, check=True)


def score(expression, row):
    return eval(expression, {"row": row})
