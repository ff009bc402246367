"""The gate registry: adding a gate means adding a module and one line here."""

from __future__ import annotations

from mlgate.gates.base import Gate, GateContext, GateInputs, GateResult, GateStatus
from mlgate.gates.data import DataGate
from mlgate.gates.deps import DepsGate
from mlgate.gates.model import ModelGate
from mlgate.gates.models import ModelsGate
from mlgate.gates.sast import SastGate
from mlgate.gates.secrets import SecretsGate

GATES: dict[str, Gate] = {
    gate.name: gate
    for gate in (
        SastGate(),
        SecretsGate(),
        DepsGate(),
        ModelsGate(),
        DataGate(),
        ModelGate(),
    )
}

__all__ = ["GATES", "Gate", "GateContext", "GateInputs", "GateResult", "GateStatus"]
