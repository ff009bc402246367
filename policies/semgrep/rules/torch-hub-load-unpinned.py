"""Test cases for ml-torch-hub-load-unpinned: models and entrypoints from torch.hub."""

import torch
import torch.hub
from torch import hub

VISION_REPO = "pytorch/vision"
VISION_PINNED = "pytorch/vision:v0.17.0"
YOLO_PINNED = "ultralytics/yolov5:8c4f3b1e5d0c2a1f7e6b9d8c7a6f5e4d3c2b1a09"


def load_backbone():
    # ruleid: ml-torch-hub-load-unpinned
    return torch.hub.load("pytorch/vision", "resnet50", weights="IMAGENET1K_V2")


def load_backbone_pinned():
    # ok: ml-torch-hub-load-unpinned
    return torch.hub.load("pytorch/vision:v0.17.0", "resnet50", weights="IMAGENET1K_V2")


def load_backbone_constant():
    # ruleid: ml-torch-hub-load-unpinned
    return torch.hub.load(VISION_REPO, "resnet18", weights=None)


def load_backbone_constant_pinned():
    # ok: ml-torch-hub-load-unpinned
    return torch.hub.load(VISION_PINNED, "resnet18", weights=None)


def load_detector():
    # ruleid: ml-torch-hub-load-unpinned
    return torch.hub.load("ultralytics/yolov5:master", "yolov5s", trust_repo=True)


def load_detector_commit():
    # ok: ml-torch-hub-load-unpinned
    return torch.hub.load(YOLO_PINNED, "yolov5s", trust_repo=True, force_reload=False)


def load_dino():
    # ruleid: ml-torch-hub-load-unpinned
    return hub.load(repo_or_dir="facebookresearch/dinov2", model="dinov2_vits14")


def load_dino_pinned():
    # ok: ml-torch-hub-load-unpinned
    return hub.load(repo_or_dir="facebookresearch/dinov2:v1.0", model="dinov2_vits14")


def load_from_config(cfg):
    # ruleid: ml-torch-hub-load-unpinned
    return torch.hub.load(cfg.hub_repo, cfg.entrypoint, trust_repo=True)


def load_from_config_checked(cfg):
    # torch asks before running code from a repository it has not seen (trust_repo="check").
    # ok: ml-torch-hub-load-unpinned
    return torch.hub.load(cfg.hub_repo, cfg.entrypoint, trust_repo="check")


def load_vendored(model_dir):
    # ok: ml-torch-hub-load-unpinned
    return torch.hub.load(model_dir, "custom_resnet", source="local", pretrained=False)


def load_vendored_literal():
    # ok: ml-torch-hub-load-unpinned
    return torch.hub.load("third_party/vision", "resnet50", source="local")


def list_entrypoints():
    # ruleid: ml-torch-hub-load-unpinned
    return torch.hub.list("pytorch/vision:main")


def list_entrypoints_pinned():
    # ok: ml-torch-hub-load-unpinned
    return torch.hub.list("pytorch/vision:v0.17.0", trust_repo=True)


def describe_entrypoint():
    # ruleid: ml-torch-hub-load-unpinned
    return torch.hub.help("intel-isl/MiDaS", "DPT_Large")


def download_weights_only(url):
    # Weights by URL are covered by ml-torch-load-unsafe (weights_only=True here).
    # ok: ml-torch-hub-load-unpinned
    return torch.hub.load_state_dict_from_url(url, map_location="cpu", weights_only=True)
