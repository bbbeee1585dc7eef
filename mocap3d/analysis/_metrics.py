"""A bag of named scalar metrics with units and, for the missing ones, the reason why."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Metrics:
    """Scalar metrics of one trial: ``values`` (NaN when missing), ``units`` and ``reasons``.

    Every metric that could not be computed is NaN in ``values`` and has a human-readable
    ``reasons[name]`` (e.g. "no takeoff found: the force never fell to the unloaded level").
    """

    values: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def set(self, name: str, value: Any, unit: str, reason: str | None = None) -> None:
        """Record a metric; a non-finite value needs (or gets) a reason."""
        v = float(value) if value is not None else float("nan")
        self.values[name] = v
        self.units[name] = unit
        if math.isfinite(v):
            self.reasons.pop(name, None)
        else:
            self.reasons[name] = reason or self.reasons.get(name) or "not computable"

    def missing(self, name: str, unit: str, reason: str) -> None:
        self.set(name, float("nan"), unit, reason)

    def update(self, other: Metrics) -> None:
        """Add every metric of ``other`` (its values win)."""
        self.values.update(other.values)
        self.units.update(other.units)
        for k in other.values:
            self.reasons.pop(k, None)
        self.reasons.update(other.reasons)

    def get(self, name: str) -> float:
        return self.values.get(name, float("nan"))

    def __contains__(self, name: str) -> bool:
        return name in self.values


def summarise_reasons(reasons: dict[str, str], *, max_names: int = 3) -> str:
    """One line: each distinct reason with the metrics it applies to (grouped)."""
    by_reason: dict[str, list[str]] = {}
    for name, why in reasons.items():
        by_reason.setdefault(why, []).append(name)
    parts = []
    for why, names in by_reason.items():
        shown = ", ".join(names[:max_names])
        more = f" and {len(names) - max_names} more" if len(names) > max_names else ""
        parts.append(f"{shown}{more}: {why}")
    return "; ".join(parts)
