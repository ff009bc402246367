"""Test cases for ml-yaml-unsafe-load: experiment configs, model cards, pipelines."""

import os

import ruamel.yaml
import yaml
from ruamel.yaml import YAML
from yaml import load as yaml_load
from yaml import CSafeLoader, FullLoader, SafeLoader, UnsafeLoader


class IncludeLoader(yaml.SafeLoader):
    """SafeLoader plus an !include tag for composing Hydra-style configs."""


def _include(loader, node):
    path = os.path.join(os.path.dirname(loader.name), loader.construct_scalar(node))
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=IncludeLoader)


IncludeLoader.add_constructor("!include", _include)


class TupleLoader(yaml.FullLoader):
    """Full loader with python/tuple support: still not safe for untrusted input."""


def load_config(path):
    with open(path, encoding="utf-8") as fh:
        # ruleid: ml-yaml-unsafe-load
        return yaml.load(fh)


def load_config_safe(path):
    with open(path, encoding="utf-8") as fh:
        # ok: ml-yaml-unsafe-load
        return yaml.safe_load(fh)


def load_config_loader(text):
    # ruleid: ml-yaml-unsafe-load
    return yaml.load(text, Loader=yaml.Loader)


def load_config_safe_loader(text):
    # ok: ml-yaml-unsafe-load
    return yaml.load(text, Loader=yaml.SafeLoader)


def load_config_full(text):
    # ruleid: ml-yaml-unsafe-load
    return yaml.load(text, Loader=FullLoader)


def load_config_csafe(text):
    # ok: ml-yaml-unsafe-load
    return yaml.load(text, Loader=yaml.CSafeLoader)


def load_config_unsafe(text):
    # ruleid: ml-yaml-unsafe-load
    return yaml.load(text, Loader=UnsafeLoader)


def load_config_imported_safe(text):
    # ok: ml-yaml-unsafe-load
    return yaml.load(text, Loader=SafeLoader)


def load_config_positional_unsafe(text):
    # ruleid: ml-yaml-unsafe-load
    return yaml.load(text, yaml.FullLoader)


def load_config_positional_safe(text):
    # ok: ml-yaml-unsafe-load
    return yaml.load(text, CSafeLoader)


def load_model_card(text):
    # ruleid: ml-yaml-unsafe-load
    return yaml.unsafe_load(text)


def load_model_card_strings(text):
    # ok: ml-yaml-unsafe-load
    return yaml.load(text, Loader=yaml.BaseLoader)


def load_sweep(text):
    # ruleid: ml-yaml-unsafe-load
    return yaml.full_load(text)


def load_sweep_safe(text):
    # ok: ml-yaml-unsafe-load
    return list(yaml.safe_load_all(text))


def load_pipeline_docs(stream):
    # ruleid: ml-yaml-unsafe-load
    return list(yaml.load_all(stream, Loader=yaml.Loader))


def load_pipeline_docs_safe(stream):
    # ok: ml-yaml-unsafe-load
    return list(yaml.load_all(stream, Loader=yaml.SafeLoader))


def load_composed_config(path):
    with open(path, encoding="utf-8") as fh:
        # ok: ml-yaml-unsafe-load
        return yaml.load(fh, Loader=IncludeLoader)


def load_tuples(text):
    # ruleid: ml-yaml-unsafe-load
    return yaml.load(text, Loader=TupleLoader)


def load_imported_function(text):
    # ruleid: ml-yaml-unsafe-load
    return yaml_load(text)


def load_imported_function_safe(text):
    # ok: ml-yaml-unsafe-load
    return yaml_load(text, Loader=yaml.CSafeLoader)


def load_with_old_ruamel(stream):
    # ruleid: ml-yaml-unsafe-load
    return ruamel.yaml.load(stream)


def load_with_old_ruamel_safe(stream):
    # ok: ml-yaml-unsafe-load
    return ruamel.yaml.load(stream, Loader=ruamel.yaml.SafeLoader)


def load_with_ruamel_unsafe(stream):
    # ruleid: ml-yaml-unsafe-load
    return YAML(typ="unsafe").load(stream)


def load_with_ruamel(stream):
    # ok: ml-yaml-unsafe-load
    return YAML(typ="safe").load(stream)


def load_with_ruamel_roundtrip(path):
    with open(path, encoding="utf-8") as fh:
        # ok: ml-yaml-unsafe-load
        return YAML().load(fh)


def dump_config(cfg):
    # ok: ml-yaml-unsafe-load
    return yaml.safe_dump(cfg, sort_keys=False)
