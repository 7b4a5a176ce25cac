"""The launch description and the report of the memory analysis."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class ArgValue:
    kind: str  # "buffer", "int" or "float"
    elements: int = 0  # buffer: element count (scalar elements of the tensor)
    value: Optional[int] = None  # int: concrete value (None = unknown)
    name: str = ""  # ABI name


@dataclass(frozen=True)
class Launch:
    kernel: str
    args: Tuple[ArgValue, ...]
    global_size: Tuple[int, ...]  # total work-items per dim (CUDA: grid * block)
    local_size: Optional[Tuple[int, ...]]  # None = chosen by the driver


@dataclass(frozen=True)
class MemFinding:
    code: str
    severity: str
    message: str
    line: int
    kernel: str
    buffer: str


@dataclass
class MemReport:
    findings: List[MemFinding]
    reach: Dict[str, Tuple[Optional[int], Optional[int]]]

    def errors(self) -> List[MemFinding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict:
        return {"findings": [asdict(f) for f in self.findings], "errors": len(self.errors()),
                "reach": {k: list(v) for k, v in self.reach.items()}}
