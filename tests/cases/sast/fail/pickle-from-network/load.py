"""Loads a model published at a URL the caller picks: pickle runs whatever it was given."""

import pickle

import requests


def fetch_model(url: str) -> object:
    response = requests.get(url, timeout=30)
    return pickle.loads(response.content)
