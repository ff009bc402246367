"""Test cases for ml-eval-exec-dynamic: configs, CLI flags and model metadata."""

import argparse
import ast
import builtins
import json

import pandas as pd
import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}
NUMPY_SHIM = "import numpy as np\nnp.float = float"


def parse_layer_sizes(spec: str):
    # ruleid: ml-eval-exec-dynamic
    return eval(spec)


def parse_layer_sizes_safe(spec: str):
    # ok: ml-eval-exec-dynamic
    return ast.literal_eval(spec)


def build_activation(cfg):
    # ruleid: ml-eval-exec-dynamic
    return eval(f"nn.{cfg['activation']}()")


def build_activation_safe(cfg):
    # ok: ml-eval-exec-dynamic
    return ACTIVATIONS[cfg["activation"]]()


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr-schedule", default="lambda step: 0.95 ** step")
    args = parser.parse_args()
    # ruleid: ml-eval-exec-dynamic
    return eval(args.lr_schedule)


def parse_args_json():
    parser = argparse.ArgumentParser()
    parser.add_argument("--class-weights", default="[1.0, 2.0]")
    args = parser.parse_args()
    # ok: ml-eval-exec-dynamic
    return json.loads(args.class_weights)


def run_user_hook(hook_source: str, namespace: dict):
    # ruleid: ml-eval-exec-dynamic
    exec(hook_source, namespace)


def run_notebook_cell(cell: dict):
    # ruleid: ml-eval-exec-dynamic
    exec(compile(cell["source"], "<cell>", "exec"), {})


def apply_numpy_shim():
    # ok: ml-eval-exec-dynamic
    exec(NUMPY_SHIM, {})


def unit_scale():
    # ok: ml-eval-exec-dynamic
    return eval("1 / 255.0")


def default_schedule():
    # ok: ml-eval-exec-dynamic
    return eval(compile("lambda step: 0.95 ** step", "<schedule>", "eval"))


def metric_from_card(card: dict, preds, labels):
    # ruleid: ml-eval-exec-dynamic
    return builtins.eval(card["metric"], {"preds": preds, "labels": labels})


def evaluate(model, batch):
    # ok: ml-eval-exec-dynamic
    model.eval()
    with torch.no_grad():
        return model(batch)


def derived_column(df: pd.DataFrame):
    # ok: ml-eval-exec-dynamic
    return df.eval("ratio = clicks / impressions")


def total_expression():
    # ok: ml-eval-exec-dynamic
    return pd.eval("1 + 2 * 3")


# Round-trip checks of a repr (test code; e.g. skorch and scikit-learn test suites).
def test_repr_round_trip(param_grid):
    # ok: ml-eval-exec-dynamic
    assert eval(repr(param_grid)) == param_grid


def test_str_is_not_repr(sldict, loc):
    # ruleid: ml-eval-exec-dynamic
    return eval(str(sldict), globals(), loc)
