"""Memory safety of OpenCL C / CUDA kernel sources for one concrete launch (interval analysis).

    report = check_memory(source, target, launches_for(source, target, bound))   # target: a C-style one
    for f in report.errors():
        print(f.line, f.message)   # write Y[i + N] can reach element 619; Y has 300 elements (at N=300, ...)

Everything is concrete: the size arguments, the global/local sizes of each launch and the element
count of every buffer are known, so each integer expression of a launched kernel is evaluated to an
interval of the values it takes over all work-items. The analysis runs each kernel body once (loops
run to a fixpoint with widening, branches are joined), refining intervals by the guards it
understands (`x < e`, `x + c <= e`, `&&`, `||`, negations, early `return`/`continue`, bool
variables holding such conditions, `c ? a : b`). Every global, local and private access (indexing,
`*p`, vload/vstore, atomics, `async_work_group_copy`, pointer casts) is checked against its buffer.
`launches_for` builds the launches of a generated source from a BoundKernel (the uhopc ABI);
`MemReport.reach` gives, per ABI buffer, the lowest and highest element any access can touch.

What the verdicts mean:

* no finding: for this launch every access provably stays inside its buffer (each index of a
  multi-dimensional local/private array inside its dimension);
* `mem.oob-*` (error): the touched interval leaves the buffer, the offending endpoint is *exact*
  (attained by some work-item: ids, loop counters, affine combinations of independent ones) and
  the path to the access is provably taken by the work-items that attain it (every guard on the
  way was refined exactly, on independent terms), so some work-item really makes that access;
* `mem.unproven-*` (warning): the interval could not be shown inside the buffer, but the analysis
  cannot claim that a work-item really goes out: the index is data dependent (loaded from memory,
  magic-number division), the interval is an over-approximation (products, %, joins, loop-carried
  values), the guard is not understood, or the pointer cannot be followed.

Not proven: the absence of races, the alignment of vector casts, anything about values read from
memory (always unknown), and accesses in functions no launched kernel reaches (helpers are
analysed inline at each call). Arithmetic is on unbounded integers; a conversion to a narrower
integer type that may wrap gives the whole range of that type, and signed overflow (undefined in
C) is assumed not to happen. `check_memory` never raises: code it cannot read (or an analysis
that runs out of budget) turns the affected accesses into warnings.
"""
from __future__ import annotations

from .api import check_memory, launches_for
from .model import ArgValue, Launch, MemFinding, MemReport

__all__ = ["ArgValue", "Launch", "MemFinding", "MemReport", "check_memory", "launches_for"]
