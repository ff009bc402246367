"""Test cases for ml-pickle-load: loading models, caches and artifacts."""

import io
import json
import pickle
import pickle as pkl
import _pickle
import shelve
from pathlib import Path
from pickle import load
from pickle import loads as unpickle_bytes

import cloudpickle
import cPickle
import dill
import dill as dl
import joblib
from joblib import load as jl_load
import jsonpickle
import numpy as np
import torch
from safetensors.torch import load_file
from sklearn.externals import joblib as sk_joblib
from skops.io import get_untrusted_types
from skops.io import load as skops_load

SAFE_CLASSES = {("collections", "OrderedDict"), ("builtins", "dict")}


class RestrictedUnpickler(pickle.Unpickler):
    """Allow-list unpickler: the recommended way to read legacy pickles."""

    def find_class(self, module, name):
        if (module, name) in SAFE_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def load_checkpoint(path):
    with open(path, "rb") as fh:
        # ruleid: ml-pickle-load
        state = pickle.load(fh)
    return state


def load_checkpoint_safetensors(path):
    # ok: ml-pickle-load
    return load_file(path)


def features_from_cache(blob: bytes):
    # ruleid: ml-pickle-load
    return pkl.loads(blob)


def features_to_cache(features) -> bytes:
    # ok: ml-pickle-load
    return pickle.dumps(features, protocol=pickle.HIGHEST_PROTOCOL)


def read_legacy(fh):
    # ruleid: ml-pickle-load
    return load(fh)


def read_legacy_restricted(blob: bytes):
    # ok: ml-pickle-load
    return RestrictedUnpickler(io.BytesIO(blob)).load()


def read_message(payload: bytes):
    # ruleid: ml-pickle-load
    return unpickle_bytes(payload)


def write_checkpoint(state, path):
    with open(path, "wb") as fh:
        # ok: ml-pickle-load
        pickle.dump(state, fh)


def read_restricted_file(path):
    with open(path, "rb") as fh:
        # ok: ml-pickle-load
        return RestrictedUnpickler(fh).load()


def read_message_json(payload: bytes):
    # ok: ml-pickle-load
    return json.loads(payload)


def read_fast(blob):
    # ruleid: ml-pickle-load
    return _pickle.loads(blob)


def read_py2(fh):
    # ruleid: ml-pickle-load
    return cPickle.load(fh)


def stream_records(fh):
    # ruleid: ml-pickle-load
    unpickler = pickle.Unpickler(fh)
    return unpickler.load()


def load_sklearn_model(path):
    # ruleid: ml-pickle-load
    return joblib.load(path)


def save_sklearn_model(model, path):
    # ok: ml-pickle-load
    joblib.dump(model, path, compress=3)


def load_sklearn_model_skops(path, reviewed_types):
    # ok: ml-pickle-load
    return skops_load(path, trusted=reviewed_types)


def list_untrusted_types(path):
    # ok: ml-pickle-load
    return get_untrusted_types(file=path)


def load_old_sklearn(path):
    # ruleid: ml-pickle-load
    return sk_joblib.load(path)


def restore_session(path):
    with open(path, "rb") as fh:
        # ruleid: ml-pickle-load
        return dill.load(fh)


def restore_session_alias(path):
    # ruleid: ml-pickle-load
    return dl.loads(Path(path).read_bytes())


def load_pipeline(path):
    # ruleid: ml-pickle-load
    return jl_load(path, mmap_mode="r")


def save_session(obj, path):
    with open(path, "wb") as fh:
        # ok: ml-pickle-load
        dill.dump(obj, fh)


def restore_notebook_session(path):
    # ruleid: ml-pickle-load
    dill.load_session(path)


def restore_module_state(path):
    # ruleid: ml-pickle-load
    return dill.session.load_module(path, module="__main__")


def checkpoint_notebook_session(path):
    # ok: ml-pickle-load
    dill.dump_session(path)


def checkpoint_module_state(path):
    # ok: ml-pickle-load
    dill.session.dump_module(path, module="__main__", refimported=True)


def load_udf_file(path):
    with open(path, "rb") as fh:
        # ruleid: ml-pickle-load
        return cloudpickle.load(fh)


def load_udf(blob):
    # ruleid: ml-pickle-load
    return cloudpickle.loads(blob)


def ship_udf(fn):
    # ok: ml-pickle-load
    return cloudpickle.dumps(fn)


def open_feature_store(path):
    # ruleid: ml-pickle-load
    return shelve.open(path, flag="r")


def decode_experiment(text: str):
    # ruleid: ml-pickle-load
    return jsonpickle.decode(text)


def default_experiment():
    # ok: ml-pickle-load
    return jsonpickle.decode('{"lr": 0.001, "epochs": 10}')


def encode_experiment(cfg):
    # ok: ml-pickle-load
    return jsonpickle.encode(cfg, unpicklable=False)


def load_hparams(path):
    with open(path, encoding="utf-8") as fh:
        # ok: ml-pickle-load
        return json.load(fh)


def load_embeddings(path):
    # ok: ml-pickle-load
    return np.load(path, allow_pickle=False)


def load_weights(path: Path):
    # ok: ml-pickle-load
    return torch.load(path, map_location="cpu", weights_only=True)


def save_weights(model, path: Path):
    # ok: ml-pickle-load
    torch.save(model.state_dict(), path)


# Round trips of objects the code just pickled (skorch 1.0.0 tests, test_net.py / test_hf.py).
def test_net_pickleable(net):
    # ok: ml-pickle-load
    net_loaded = pickle.loads(pickle.dumps(net))
    pickled = pickle.dumps(net)
    # ok: ml-pickle-load
    loaded = pickle.loads(pickled)
    return net_loaded, loaded


def test_history_roundtrip(history, mock_hf_api):
    # ok: ml-pickle-load
    loaded = pickle.loads(pickle.dumps(history, protocol=4))
    # ruleid: ml-pickle-load
    net_loaded = pickle.loads(mock_hf_api.saved.read())
    return loaded, net_loaded
