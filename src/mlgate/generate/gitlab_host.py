"""A repository's own `.gitlab-ci.yml` (the host) and mlgate's jobs beside it, never over it.

Two layouts leave the host's pipeline as it is (`pipeline.gitlab` in `.mlgate.yml`):

- `include`: mlgate's jobs go into `.gitlab/mlgate.yml`, which the host includes with one line
  the user adds (`include: [{local: .gitlab/mlgate.yml}]`);
- `merge`: mlgate's jobs are appended to the host between two marker lines; the text before
  and after the block is kept byte for byte, and the result must load as exactly the host's
  keys plus mlgate's (a block scalar kept open by the host, a second YAML document, a key both
  define: refused).

Either way mlgate's part defines no `workflow`, `stages`, `default` or `variables` (the host's
apply), its jobs run in stages the host already has (`stages` of the host, else GitLab's
default `build`, `test`, `deploy`) and are ordered by `needs:`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlgate.generate.base import GenerateError
from mlgate.yamlimport import yaml

HOST = ".gitlab-ci.yml"
INCLUDED = ".gitlab/mlgate.yml"
BEGIN = "# >>> mlgate: generated jobs, rewritten by `mlgate generate --ci gitlab`; do not edit"
END = "# <<< mlgate: end of the generated jobs"
# GitLab's stages when the host names none.
DEFAULT_STAGES = ("build", "test", "deploy")
# mlgate's gates, decide and training run in this stage when the host has it, else in the host's
# first stage; deploy in `deploy` when the host has it after that one.
PREFERRED_STAGE = "test"
DEPLOY_STAGE = "deploy"
INCLUDE_LINE = f"include:\n  - local: {INCLUDED}"


@dataclass(frozen=True)
class Host:
    """The host file: its text without mlgate's block, and what it defines."""

    text: str
    data: Mapping[str, Any]
    block: str | None  # mlgate's block (between the markers, markers included), if any

    @property
    def stages(self) -> tuple[str, ...]:
        stages = self.data.get("stages")
        return tuple(stages) if stages else DEFAULT_STAGES

    @property
    def includes_mlgate(self) -> bool:
        return any(_included_path(entry) == INCLUDED for entry in _includes(self.data))


def parse_host(text: str) -> Host:
    """The host's text and keys; GenerateError when mlgate cannot add its jobs safely."""
    before, block, after = _split(text)
    rest = before + after
    data = _load(rest, "its own content")
    if not isinstance(data, dict):
        raise GenerateError(f"{HOST}: not a mapping of keys to jobs; mlgate cannot add to it")
    stages = data.get("stages")
    if stages is not None and not (
        isinstance(stages, list) and stages and all(isinstance(s, str) for s in stages)
    ):
        raise GenerateError(f"{HOST}: stages: not a list of stage names")
    return Host(rest, data, block)


def stage_names(host: Host) -> dict[str, str]:
    """The host's stages mlgate's jobs run in (`gates`, `decide`, `train`, `deploy`)."""
    usable = [s for s in host.stages if s not in (".pre", ".post")]
    if not usable:
        raise GenerateError(f"{HOST}: stages: no stage other than .pre and .post")
    main = PREFERRED_STAGE if PREFERRED_STAGE in usable else usable[0]
    deploy = (
        DEPLOY_STAGE
        if DEPLOY_STAGE in usable and usable.index(DEPLOY_STAGE) >= usable.index(main)
        else main
    )
    return {"gates": main, "decide": main, "train": main, "deploy": deploy}


def check_keys(host: Host, rendered: str, path: str) -> None:
    """Refuse a key both the host and mlgate's jobs define (the host's would win silently)."""
    ours = _load(rendered, "mlgate's jobs")
    clash = sorted(set(host.data) & set(ours or {}))
    if clash:
        raise GenerateError(
            f"{HOST}: defines {', '.join(clash)}, which {path} defines too; "
            "mlgate cannot add its jobs without changing yours",
            hint="rename that key in .gitlab-ci.yml, or remove it if it is an old mlgate job",
        )


def merge_into(host: Host, original: str, rendered: str) -> str:
    """The host with mlgate's block (rendered jobs between the markers), checked unchanged.

    An existing block is replaced where it is; otherwise the block is appended.
    """
    check_keys(host, rendered, HOST)
    block = f"{BEGIN}\n{rendered.rstrip(chr(10))}\n{END}\n"
    before, old, after = _split(original)
    if old is None:
        base = before if before.endswith("\n") or not before else before + "\n"
        merged = f"{base}\n{block}"
    else:
        merged = before + block + after
    if _load(merged, "the merged file") != {**host.data, **(_load(rendered, "mlgate's jobs"))}:
        raise GenerateError(
            f"{HOST}: appending mlgate's jobs would change how GitLab reads the existing "
            "content (an open block scalar or a second YAML document at its end?); "
            "nothing was written",
            hint=f"use the include layout: `pipeline.gitlab: include` writes {INCLUDED}",
        )
    return merged


def include_hint(host: Host) -> str:
    """What to add to the host so it includes mlgate's file (empty when it already does)."""
    if host.includes_mlgate:
        return ""
    if "include" in host.data:
        return f"add `- local: {INCLUDED}` to the include: list of {HOST}"
    return f"add these lines to {HOST}:\n{INCLUDE_LINE}"


def _split(text: str) -> tuple[str, str | None, str]:
    """(text before mlgate's block, the block or None, text after it)."""
    start = _line_index(text, BEGIN)
    if start < 0:
        return text, None, ""
    end = _line_index(text, END, start)
    if end < 0:
        raise GenerateError(f"{HOST}: mlgate's block starts but has no end line ({END!r})")
    stop = end + len(END) + (1 if text[end + len(END) : end + len(END) + 1] == "\n" else 0)
    return text[:start], text[start:stop], text[stop:]


def _line_index(text: str, line: str, start: int = 0) -> int:
    at = text.find(line, start)
    while at >= 0 and at > 0 and text[at - 1] != "\n":
        at = text.find(line, at + 1)
    return at


def _load(text: str, what: str) -> Any:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise GenerateError(f"{HOST}: {what} is not valid YAML: {exc}") from None
    if len(docs) > 1:
        raise GenerateError(
            f"{HOST}: {what} has {len(docs)} YAML documents; mlgate cannot add to it",
            hint=f"use the include layout: `pipeline.gitlab: include` writes {INCLUDED}",
        )
    return docs[0] if docs else {}


def _includes(data: Mapping[str, Any]) -> Sequence[Any]:
    found = data.get("include")
    if found is None:
        return ()
    return found if isinstance(found, list) else [found]


def _included_path(entry: Any) -> str | None:
    path = entry.get("local") if isinstance(entry, dict) else entry
    return str(path).lstrip("/") if isinstance(path, str) else None
