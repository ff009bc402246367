"""Test cases for ml-weak-hash: MD4/MD5/SHA-1 and weak crypt methods, and their non-security uses."""

import crypt
import hashlib
import random

import numpy as np


def verify_download(path, expected_md5):
    with open(path, "rb") as handle:
        # ruleid: ml-weak-hash
        digest = hashlib.md5(handle.read()).hexdigest()
    return digest == expected_md5


def sign(payload, secret):
    # ruleid: ml-weak-hash
    return hashlib.sha1(secret + payload).hexdigest()


def hasher(name):
    # ruleid: ml-weak-hash
    return hashlib.new("MD5")


def password_hash(word):
    # ruleid: ml-weak-hash
    return crypt.crypt(word, crypt.METHOD_MD5)


def password_hash_strong(word):
    # ok: ml-weak-hash
    return crypt.crypt(word, crypt.METHOD_SHA512)


def strong(payload):
    # ok: ml-weak-hash
    return hashlib.sha256(payload).hexdigest()


def declared(payload):
    # ok: ml-weak-hash
    return hashlib.md5(payload, usedforsecurity=False).hexdigest()


# dowhy 0.11.1, dowhy/causal_prediction/dataloaders/misc.py: the digest becomes a seed.
def seed_hash(*args):
    """
    Derive an integer hash from all args, for use as a random seed.
    """
    args_str = str(args)
    # ok: ml-weak-hash
    return int(hashlib.md5(args_str.encode("utf-8")).hexdigest(), 16) % (2**31)


def shard_of(key, shards):
    # ok: ml-weak-hash
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:4], "big") % shards


def seeded(name):
    # ok: ml-weak-hash
    rng = np.random.default_rng(int(hashlib.md5(name.encode()).hexdigest()[:8], 16))
    # ok: ml-weak-hash
    random.seed(hashlib.md5(name.encode()).digest())
    return rng


def cached(fn, args):
    # ok: ml-weak-hash
    cache_key = hashlib.md5(repr(args).encode()).hexdigest()
    # ok: ml-weak-hash
    seed = hashlib.sha1(repr(args).encode()).hexdigest()[:8]
    return cache_key, seed


def token(user):
    # A digest named as a token is a security use.
    # ruleid: ml-weak-hash
    token = hashlib.md5(user.encode()).hexdigest()
    return token


class Store:
    def key_for(self, payload):
        # ok: ml-weak-hash
        self.cache_key = f"{hashlib.md5(payload).hexdigest()}.pkl"
        # ruleid: ml-weak-hash
        self.signature = hashlib.md5(payload).hexdigest()
