"""Test cases for the skops loading rules: scikit-learn models persisted with skops."""

from pathlib import Path

import skops.io as sio
from skops.io import get_untrusted_types, load, loads

# Our own estimator classes, reviewed for safe construction.
REVIEWED_TYPES = frozenset({"churn.features.RatioEncoder", "churn.model.CalibratedStack"})


def load_model_anything(path):
    # ruleid: ml-skops-load-trusted-all
    return sio.load(path, trusted=True)


def load_model_defaults(path):
    # ok: ml-skops-load-trusted-all
    return sio.load(path)


def load_model_from_bytes(blob: bytes):
    # ruleid: ml-skops-load-trusted-all
    return loads(blob, trusted=True)


def load_model_from_bytes_reviewed(blob: bytes):
    # ok: ml-skops-load-trusted-all
    return loads(blob, trusted=sorted(REVIEWED_TYPES))


def load_model_from_bytes_defaults(blob: bytes):
    # ok: ml-skops-load-trusted-all
    return sio.loads(blob, trusted=None)


def load_model_trusting_the_file(path):
    # ruleid: ml-skops-load-trusted-all
    return load(path, trusted=get_untrusted_types(file=path))


def load_model_trusting_the_file_in_two_steps(path):
    unknown = sio.get_untrusted_types(file=path)
    print(f"loading {path} with {len(unknown)} extra types")
    # ruleid: ml-skops-load-trusted-all
    return sio.load(path, trusted=unknown)


def load_model_checked(path):
    unknown = sio.get_untrusted_types(file=path)
    if set(unknown) - REVIEWED_TYPES:
        raise ValueError(f"{path} asks to trust unreviewed types: {sorted(unknown)}")
    # ok: ml-skops-load-trusted-all
    return sio.load(path, trusted=sorted(REVIEWED_TYPES))


def load_model_reviewed_list(path: Path):
    # ok: ml-skops-load-trusted-all
    return sio.load(path, trusted=list(REVIEWED_TYPES))


def load_model_code_running_types(path: Path):
    # ruleid: ml-skops-load-trusted-all
    return sio.load(path, trusted=["churn.model.CalibratedStack", "builtins.eval"])


def load_model_subprocess_type(path: Path):
    # ruleid: ml-skops-load-trusted-all
    return load(path, trusted=["subprocess.Popen"])


def load_model_custom_types(path: Path):
    # ruleid: ml-skops-load-trusted-list
    return sio.load(path, trusted=["churn.features.RatioEncoder", "churn.model.CalibratedStack"])


def load_model_custom_types_constant(path: Path):
    # ok: ml-skops-load-trusted-list
    return sio.load(path, trusted=sorted(REVIEWED_TYPES))


def load_model_numpy_dtype(path: Path):
    # ruleid: ml-skops-load-trusted-list
    return load(path, trusted=["numpy.dtype"])


def load_model_no_extra_types(path: Path):
    # ok: ml-skops-load-trusted-list
    return load(path, trusted=[])


def list_unknown_types(path: Path):
    # ok: ml-skops-load-trusted-all
    return get_untrusted_types(file=path)


def save_model(model, path: Path):
    # ok: ml-skops-load-trusted-all
    sio.dump(model, path)
