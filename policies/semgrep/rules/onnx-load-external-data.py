"""Test cases for ml-onnx-load-external-data: loading ONNX models and their external tensors."""

import sys
from pathlib import Path

import onnx
from onnx import load as onnx_load
from onnx.external_data_helper import load_external_data_for_model

ENCODER_PATH = "models/encoder.onnx"


def load_uploaded_model(upload_path):
    # ruleid: ml-onnx-load-external-data
    return onnx.load(upload_path)


def load_uploaded_model_no_external(upload_path):
    # ok: ml-onnx-load-external-data
    return onnx.load(upload_path, load_external_data=False)


def load_model_from_cli():
    # ruleid: ml-onnx-load-external-data
    model = onnx_load(sys.argv[1])
    onnx.checker.check_model(model)
    return model


def load_bundled_encoder():
    # ok: ml-onnx-load-external-data
    return onnx.load("models/encoder.onnx")


def load_bundled_encoder_constant():
    # ok: ml-onnx-load-external-data
    return onnx.load_model(ENCODER_PATH)


def load_from_registry(cache_dir: Path, name: str):
    # ruleid: ml-onnx-load-external-data
    return onnx.load_model(cache_dir / name / "model.onnx", load_external_data=True)


def load_from_file_object(path):
    with open(path, "rb") as fh:
        # ruleid: ml-onnx-load-external-data
        return onnx.load(fh)


def load_checked(path: Path):
    # ok: ml-onnx-load-external-data
    model = onnx.load(path, load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            location = Path(entry.value) if entry.key == "location" else None
            if location and (location.is_absolute() or ".." in location.parts):
                raise ValueError(f"external data outside the model directory: {location}")
    load_external_data_for_model(model, str(path.parent))
    return model


def load_from_bytes(blob: bytes):
    # ok: ml-onnx-load-external-data
    return onnx.load_model_from_string(blob)


def save_model(model, path):
    # ok: ml-onnx-load-external-data
    onnx.save_model(model, path, save_as_external_data=True, location="weights.bin")
