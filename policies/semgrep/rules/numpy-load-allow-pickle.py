"""Test cases for ml-numpy-load-allow-pickle: feature and embedding files."""

import json

import numpy
import numpy as np
from numpy import load as np_load
from safetensors.numpy import load_file


def load_embeddings(path):
    # ruleid: ml-numpy-load-allow-pickle
    return np.load(path, allow_pickle=True)


def load_embeddings_safe(path):
    # ok: ml-numpy-load-allow-pickle
    return np.load(path)


def load_label_map(path):
    # ruleid: ml-numpy-load-allow-pickle
    return np.load(path, allow_pickle=True).item()


def load_label_map_json(path):
    with open(path, encoding="utf-8") as fh:
        # ok: ml-numpy-load-allow-pickle
        return json.load(fh)


def load_shards(path):
    # ruleid: ml-numpy-load-allow-pickle
    with numpy.load(path, mmap_mode="r", allow_pickle=True) as shards:
        return {k: shards[k] for k in shards.files}


def load_shards_safe(path):
    # ok: ml-numpy-load-allow-pickle
    with numpy.load(path, mmap_mode="r", allow_pickle=False) as shards:
        return {k: shards[k] for k in shards.files}


def load_positional(path):
    # ruleid: ml-numpy-load-allow-pickle
    return np_load(path, None, True)


def load_positional_safe(path):
    # ok: ml-numpy-load-allow-pickle
    return np_load(path, "r", False)


def load_safetensors(path):
    # ok: ml-numpy-load-allow-pickle
    return load_file(path)


def save_features(path, x, y):
    # ok: ml-numpy-load-allow-pickle
    np.savez_compressed(path, x=x, y=y)
