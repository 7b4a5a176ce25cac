"""Lowering: a bound kernel -> KernelSpec (ABI, iteration space, costs, category, hardware)."""
from .category import CATEGORIES, categorize
from .indexing import index_bits
from .spec import AbiArg, KernelSpec, StatementSpec, TensorSpec, build_spec

__all__ = ["CATEGORIES", "categorize", "AbiArg", "KernelSpec", "StatementSpec", "TensorSpec", "build_spec", "index_bits"]
