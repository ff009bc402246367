"""Render a target's jinja2 templates for a PipelineSpec: strict, deterministic, checked."""

from __future__ import annotations

import dataclasses
import functools
import json
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from mlgate.generate.base import GenerateError, Target, header_lines
from mlgate.generate.spec import PipelineSpec
from mlgate.resources import data_dir
from mlgate.yamlimport import yaml


def templates_dir(name: str) -> Path:
    return data_dir("pipeline_templates") / name


@functools.lru_cache(maxsize=8)
def environment(folder: Path) -> jinja2.Environment:
    """Undefined names are errors; output is YAML, so nothing is HTML-escaped. One per
    folder, so a template is compiled once per process (the loader reloads a changed file)."""
    env = jinja2.Environment(  # nosec B701 (renders YAML, not HTML)
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 (renders YAML, not HTML)
    )
    env.filters["yaml"] = yaml_scalar
    env.filters["yaml_list"] = yaml_list
    env.filters["sh"] = shlex.quote
    env.globals["expr"] = expression
    return env


def yaml_scalar(value: object) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value), ensure_ascii=False)


def yaml_list(values: Iterable[object]) -> str:
    return "[" + ", ".join(yaml_scalar(v) for v in values) + "]"


def expression(text: str) -> str:
    """A GitHub Actions expression; templates only ever pass trusted, fixed text."""
    return "${{ " + text + " }}"


def render_template(folder: Path, template: str, context: Mapping[str, Any]) -> str:
    try:
        return environment(folder).get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        raise GenerateError(f"{folder / template}: template error: {exc}") from None


def render_target(target: Target, spec: PipelineSpec) -> dict[str, str]:
    """Path -> text of every file the target generates for `spec`."""
    folder = templates_dir(target.name)
    context = {
        **{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)},
        "header": header_lines(target.name),
        **target.template_globals(folder, spec),
    }
    rendered = {}
    for output in target.outputs(spec):
        text = render_template(folder, output.template, {**context, "output_path": output.path})
        _check_yaml(output.path, text)
        rendered[output.path] = text
    return rendered


def _check_yaml(path: str, text: str) -> None:
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:  # a template or value bug: never write a broken pipeline
        raise GenerateError(f"{path}: generated text is not valid YAML: {exc}") from None
