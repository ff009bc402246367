"""Test cases for ml-torch-load-unsafe: checkpoint loading in training / serving code."""

import io
import tempfile
import os

import torch
import torch as th
from safetensors.torch import load_file, save_file
from torch import load as torch_load
from torch.serialization import add_safe_globals

CHECKPOINT_URL = "https://download.example.org/resnet50-0676ba61.pth"


def resume(model, optimizer, ckpt_path):
    # ruleid: ml-torch-load-unsafe
    state = torch.load(ckpt_path, map_location="cpu")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optim"])


def resume_safe(model, optimizer, ckpt_path):
    # ok: ml-torch-load-unsafe
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optim"])


def load_full_model(path):
    # ruleid: ml-torch-load-unsafe
    return torch.load(path, weights_only=False)


def load_full_model_alias(path, device):
    # ruleid: ml-torch-load-unsafe
    return th.load(path, map_location=device)


def load_weights_alias(path, device):
    # ok: ml-torch-load-unsafe
    return th.load(path, map_location=device, weights_only=True)


def load_from_bytes(blob: bytes):
    # ruleid: ml-torch-load-unsafe
    return torch_load(io.BytesIO(blob))


def load_from_bytes_safe(blob: bytes):
    # ok: ml-torch-load-unsafe
    return torch_load(io.BytesIO(blob), weights_only=True)


def load_configurable(path, trusted: bool):
    # ruleid: ml-torch-load-unsafe
    return torch.load(path, weights_only=not trusted)


def load_low_level(fh):
    # ruleid: ml-torch-load-unsafe
    return torch.serialization.load(fh, map_location="cpu")


def load_with_allowlist(path, config_cls):
    add_safe_globals([config_cls])
    # ok: ml-torch-load-unsafe
    return torch.load(path, weights_only=True, mmap=True)


def fetch_pretrained():
    # ruleid: ml-torch-load-unsafe
    return torch.hub.load_state_dict_from_url(CHECKPOINT_URL, progress=True)


def fetch_pretrained_safe():
    # ok: ml-torch-load-unsafe
    return torch.hub.load_state_dict_from_url(CHECKPOINT_URL, weights_only=True)


def load_safetensors(path):
    # ok: ml-torch-load-unsafe
    return load_file(path, device="cpu")


def export_safetensors(model, path):
    # ok: ml-torch-load-unsafe
    save_file(model.state_dict(), os.fspath(path))


def export_checkpoint(model, path):
    # ok: ml-torch-load-unsafe
    torch.save({"model": model.state_dict()}, path)


def load_torchscript(path):
    # ok: ml-torch-load-unsafe
    return torch.jit.load(path, map_location="cpu")


# Real idioms: kwargs assembled before the call (adapted from skorch's net.py, 1.0.0).
def load_cuda_attrs(f, map_location):
    load_kwargs = {"map_location": map_location, "weights_only": True}
    # ok: ml-torch-load-unsafe
    return torch.load(f, **load_kwargs)


def load_cuda_attrs_dict(f, map_location):
    load_kwargs = dict(map_location=map_location, weights_only=True)
    # ok: ml-torch-load-unsafe
    cuda_attrs = torch.load(f, **load_kwargs)
    return cuda_attrs


def load_cuda_attrs_set(f, map_location):
    load_kwargs = {"map_location": map_location}
    load_kwargs["weights_only"] = True
    # ok: ml-torch-load-unsafe
    return torch.load(f, **load_kwargs)


def load_cuda_attrs_unsafe(f, map_location):
    # skorch 1.0.0, net.py: the kwargs do not carry weights_only
    load_kwargs = {"map_location": map_location}
    # ruleid: ml-torch-load-unsafe
    cuda_attrs = torch.load(f, **load_kwargs)
    return cuda_attrs


def load_other_kwargs(f, map_location, other):
    load_kwargs = {"map_location": map_location, "weights_only": True}
    # ruleid: ml-torch-load-unsafe
    return torch.load(f, **other)


# skorch 1.0.0, net.py (NeuralNet.__setstate__): the CUDA-dependent attributes were
# torch.save()d into the state by __getstate__; loading them back from that state happens
# while the object is being unpickled, so it opens no new trust boundary.
class NeuralNet:
    def __setstate__(self, state):
        map_location = get_map_location(state["device"])
        load_kwargs = {"map_location": map_location}
        with tempfile.SpooledTemporaryFile() as f:
            f.write(state["__cuda_dependent_attributes__"])
            f.seek(0)
            # ok: ml-torch-load-unsafe
            cuda_attrs = torch.load(f, **load_kwargs)
        state.update(cuda_attrs)
        self.__dict__.update(state)


class FromStateBytes:
    def __setstate__(self, state):
        # ok: ml-torch-load-unsafe
        self.weights = torch.load(io.BytesIO(state["weights"]))


class FromStatePath:
    def __setstate__(self, state):
        # A file the state names is another artifact, read from wherever the path points.
        # ruleid: ml-torch-load-unsafe
        self.weights = torch.load(state["weights_path"])


class WritesOneLoadsAnother:
    def __setstate__(self, state):
        with tempfile.TemporaryFile() as f:
            f.write(state["buffers"])
            f.seek(0)
            # ok: ml-torch-load-unsafe
            buffers = torch.load(f)
        # ruleid: ml-torch-load-unsafe
        self.weights = torch.load(state["weights_path"])
        self.buffers = buffers


class NotUnpickling:
    def load(self, state):
        with tempfile.TemporaryFile() as f:
            f.write(state["blob"])
            f.seek(0)
            # ruleid: ml-torch-load-unsafe
            return torch.load(f)
