"""The gate registry: adding a gate means adding a module and one line here.

Everything else (reports, pipelines, configuration, the runner) reads what each gate
declares about itself (`gates.base.Gate`) from `GATES` and never names a gate.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from mlgate.gates.base import (
    MLGATE_TOOL,
    Gate,
    GateContext,
    GateInputs,
    GateResult,
    GateStatus,
    OptionKinds,
    PipelineTraits,
    RuleInfo,
    ToolInfo,
)
from mlgate.gates.data import DataGate
from mlgate.gates.deps import DepsGate
from mlgate.gates.modelfiles import ModelFilesGate
from mlgate.gates.quality import ModelQualityGate
from mlgate.gates.sast import SastGate
from mlgate.gates.secrets import SecretsGate

GATES: dict[str, Gate] = {
    gate.name: gate
    for gate in (
        SastGate(),
        SecretsGate(),
        DepsGate(),
        ModelFilesGate(),
        DataGate(),
        ModelQualityGate(),
    )
}


def known_tools() -> Mapping[str, ToolInfo]:
    """Every tool a registered gate declares, by name (mlgate's own checks included)."""
    return _tool_index(tuple(GATES.values()))


@functools.lru_cache(maxsize=4)
def _tool_index(gates: tuple[Gate, ...]) -> Mapping[str, ToolInfo]:
    """Built once per registry (reports ask once per finding)."""
    found = {MLGATE_TOOL.name: MLGATE_TOOL}
    for gate in gates:
        found.update((tool.name, tool) for tool in gate.tools)
    return found


def catalogued_rule(gate: str, tool: str, rule_id: str) -> RuleInfo | None:
    """The catalogue entry of a gate's rule (None: not a registered gate, or not catalogued)."""
    owner = GATES.get(gate)
    return owner.rule(tool, rule_id) if owner is not None else None


__all__ = [
    "GATES",
    "Gate",
    "GateContext",
    "GateInputs",
    "GateResult",
    "GateStatus",
    "OptionKinds",
    "PipelineTraits",
    "RuleInfo",
    "ToolInfo",
    "catalogued_rule",
    "known_tools",
]
