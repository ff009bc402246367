"""Test cases for the MLflow model-loading rules: serving and batch-scoring code."""

import os

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from mlflow import pytorch as mlflow_pytorch
from mlflow.pyfunc import load_model

MODEL_NAME = "churn-classifier"
REGISTRY_URI = "models:/churn-classifier/7"
VENDOR_MODEL_URI = "https://models.vendor.example.com/churn/model"
MODEL_BUCKET = "s3://ml-artifacts-shared/churn/model"


def load_vendor_model():
    # ruleid: ml-mlflow-load-model-remote-uri
    return mlflow.pyfunc.load_model("https://models.vendor.example.com/churn/model")


def load_vendor_model_constant():
    # ruleid: ml-mlflow-load-model-remote-uri
    return load_model(VENDOR_MODEL_URI)


def load_registered_model():
    # ok: ml-mlflow-load-model-remote-uri
    return mlflow.pyfunc.load_model("models:/churn-classifier/7")


def load_registered_constant():
    # ok: ml-mlflow-load-model-remote-uri
    return load_model(REGISTRY_URI)


def load_from_bucket():
    # ruleid: ml-mlflow-load-model-remote-uri
    return mlflow.sklearn.load_model(model_uri=MODEL_BUCKET)


def load_from_bucket_prefix(bucket, run_name):
    # ruleid: ml-mlflow-load-model-remote-uri
    return mlflow_pytorch.load_model(f"gs://{bucket}/models/{run_name}", map_location="cpu")


def load_champion():
    # ok: ml-mlflow-load-model-remote-uri
    return mlflow.sklearn.load_model(model_uri=f"models:/{MODEL_NAME}@champion")


def load_run_artifact(run_id):
    # ok: ml-mlflow-load-model-dynamic-uri
    return mlflow_pytorch.load_model(f"runs:/{run_id}/model", map_location="cpu")


def load_local_export():
    # ok: ml-mlflow-load-model-remote-uri
    return mlflow.pyfunc.load_model("./artifacts/churn_model")


def load_registered_version(version):
    # ok: ml-mlflow-load-model-dynamic-uri
    return mlflow.pyfunc.load_model("models:/" + MODEL_NAME + "/" + str(version))


def serve(model_uri):
    # ruleid: ml-mlflow-load-model-dynamic-uri
    return mlflow.pyfunc.load_model(model_uri)


def serve_from_env():
    # ruleid: ml-mlflow-load-model-dynamic-uri
    return mlflow.sklearn.load_model(model_uri=os.environ["MODEL_URI"])


def score_batch(config, frame):
    # ruleid: ml-mlflow-load-model-dynamic-uri
    model = mlflow.pyfunc.load_model(config["model"]["uri"], dst_path="/tmp/model")
    return model.predict(frame)


def load_alias(alias):
    # ok: ml-mlflow-load-model-dynamic-uri
    return mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{alias}")


def load_from_file_uri():
    # ok: ml-mlflow-load-model-dynamic-uri
    return mlflow.pyfunc.load_model("file:///opt/models/churn")


def save_model(model, path):
    # ok: ml-mlflow-load-model-dynamic-uri
    mlflow.sklearn.save_model(model, path)
