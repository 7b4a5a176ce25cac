"""Verification of generated kernels: differential validation, tolerances, timing, isolation."""
from __future__ import annotations

from .sandbox import IsolatedResult, build_and_validate, run_isolated, validate_isolated
from .timing import Timing, summarize, time_launch
from .tolerance import Comparison, Tolerance, compare, reduction_length, tolerance_for
from .validate import OutputReport, ValidationReport, validate

__all__ = ["IsolatedResult", "build_and_validate", "run_isolated", "validate_isolated", "Timing", "summarize",
           "time_launch", "Comparison", "Tolerance", "compare", "reduction_length", "tolerance_for",
           "OutputReport", "ValidationReport", "validate"]
