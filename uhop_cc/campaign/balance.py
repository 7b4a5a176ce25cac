"""Category balancing: every category within one record of the others, at every moment.

Counts are of passing records written to the dataset, per balance group (one group per target
and device). A passing record may be written only when its category is at the group's minimum
(`can_write`); otherwise it waits in the reserve and is written as soon as the other categories
catch up (`releasable`). So after every write `max - min <= 1` holds in every group, whatever the
order in which parallel workers finish and whichever categories fail more often.

Scheduling (`choose`) picks the category furthest behind, counting written, reserved and
in-flight work, so that slow or failure-prone categories are generated more often.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

__all__ = ["Balancer", "spread", "balanced"]


def spread(counts: Mapping[str, int], categories: Sequence[str]) -> int:
    vals = [int(counts.get(c, 0)) for c in categories]
    return (max(vals) - min(vals)) if vals else 0


def balanced(counts: Mapping[str, int], categories: Sequence[str]) -> bool:
    return spread(counts, categories) <= 1


class Balancer:
    def __init__(self, categories: Sequence[str], groups: Sequence[str], target: int,
                 written: Optional[Mapping[Tuple[str, str], int]] = None,
                 reserved: Optional[Mapping[Tuple[str, str], int]] = None,
                 max_programs: Optional[int] = None, programs: Optional[Mapping[str, int]] = None):
        self.categories = tuple(categories)
        self.groups = tuple(groups)
        self.target = int(target)
        self.max_programs = max_programs
        self.written: Dict[str, Dict[str, int]] = {g: {c: 0 for c in self.categories} for g in self.groups}
        self.reserved: Dict[str, Dict[str, int]] = {g: {c: 0 for c in self.categories} for g in self.groups}
        for (g, c), n in (written or {}).items():
            if g in self.written and c in self.written[g]:
                self.written[g][c] = int(n)
        for (g, c), n in (reserved or {}).items():
            if g in self.reserved and c in self.reserved[g]:
                self.reserved[g][c] = int(n)
        self.in_flight: Dict[str, Dict[str, int]] = {g: {c: 0 for c in self.categories} for g in self.groups}
        self.programs: Dict[str, int] = {c: int((programs or {}).get(c, 0)) for c in self.categories}
        self._rr = 0

    # ---------------------------------------------------------------- writing
    def low(self, group: str) -> int:
        return min(self.written[group].values()) if self.categories else 0

    def can_write(self, group: str, category: str) -> bool:
        """True when writing one more passing record of `category` keeps the group balanced."""
        w = self.written[group]
        return w[category] == self.low(group) and w[category] < self.target

    def wrote(self, group: str, category: str) -> None:
        self.written[group][category] += 1
        assert spread(self.written[group], self.categories) <= 1, self.written[group]

    def reserve(self, group: str, category: str) -> None:
        self.reserved[group][category] += 1

    def unreserve(self, group: str, category: str) -> None:
        self.reserved[group][category] -= 1

    def releasable(self, group: str) -> List[str]:
        """Categories with a reserved record that may be written now (at most one each, lowest first)."""
        return [c for c in self.categories if self.reserved[group][c] > 0 and self.can_write(group, c)]

    # ---------------------------------------------------------------- scheduling
    def complete(self, category: str) -> bool:
        return all(self.written[g][category] >= self.target for g in self.groups)

    def exhausted(self, category: str) -> bool:
        return self.max_programs is not None and self.programs[category] >= self.max_programs

    def projected(self, category: str) -> int:
        """What the category will have in its weakest group if everything in flight passes."""
        return min(self.written[g][category] + self.reserved[g][category] + self.in_flight[g][category]
                   for g in self.groups)

    def choose(self) -> Optional[str]:
        """The next category to generate a program for, or None when every category is complete
        (or out of programs)."""
        open_ = [c for c in self.categories if not self.complete(c) and not self.exhausted(c)
                 and self.projected(c) < self.target]
        if not open_:
            return None
        low = min(self.projected(c) for c in open_)
        tied = [c for c in open_ if self.projected(c) == low]
        c = tied[self._rr % len(tied)]
        self._rr += 1
        return c

    def started(self, category: str, groups: Optional[Iterable[str]] = None) -> None:
        """A program of `category` was planned, with one work item in each of `groups` (default all)."""
        for g in (self.groups if groups is None else groups):
            self.in_flight[g][category] += 1
        self.programs[category] += 1

    def generated(self, category: str) -> None:
        """A program was generated but produced no work (a duplicate or an invalid program)."""
        self.programs[category] += 1

    def ended(self, group: str, category: str) -> None:
        """A work item finished (whatever its outcome)."""
        self.in_flight[group][category] = max(0, self.in_flight[group][category] - 1)

    def done(self) -> bool:
        return all(self.complete(c) or self.exhausted(c) for c in self.categories)

    def counts(self) -> Dict[str, Dict[str, int]]:
        return {g: dict(w) for g, w in self.written.items()}

    def totals(self) -> Dict[str, int]:
        return {c: sum(self.written[g][c] for g in self.groups) for c in self.categories}

    @staticmethod
    def check(counts: Mapping[str, int], categories: Iterable[str]) -> bool:
        return balanced(counts, list(categories))
