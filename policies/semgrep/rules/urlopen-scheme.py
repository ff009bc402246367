"""Test cases for ml-urlopen-unchecked-scheme: dataset and model downloads with urllib."""

import urllib.request
from urllib.request import Request, urlopen, urlretrieve

MODEL_URL = "https://download.example.org/models/resnet50.pth"
MIRROR = "http://mirror.example.org/data.csv"


def fetch_manifest():
    # ok: ml-urlopen-unchecked-scheme
    return urlopen("https://raw.githubusercontent.com/org/repo/v1.0/manifest.json").read()


def fetch_model(dest):
    # ok: ml-urlopen-unchecked-scheme
    urlretrieve(MODEL_URL, dest)


def fetch_tagged(version):
    # ok: ml-urlopen-unchecked-scheme
    return urllib.request.urlopen(f"https://pypi.org/pypi/mlgate/{version}/json")


def download_data(url, archive):
    # yellowbrick 1.5, datasets/download.py: the URL comes from a manifest entry
    # ruleid: ml-urlopen-unchecked-scheme
    response = urlopen(url)
    with open(archive, "wb") as f:
        f.write(response.read())


def fetch_mirror():
    # ruleid: ml-urlopen-unchecked-scheme
    return urllib.request.urlopen(MIRROR)


def build_request(cfg):
    # ruleid: ml-urlopen-unchecked-scheme
    return Request(cfg["dataset_url"], headers={"User-Agent": "trainer"})


def safe_request():
    # ok: ml-urlopen-unchecked-scheme
    return Request("https://huggingface.co/api/models", headers={"Accept": "json"})
