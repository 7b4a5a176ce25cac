"""The structural checker flags what the TT-Metal rules forbid (mutations of clean emitted kernels)."""
from __future__ import annotations

from pathlib import Path

import pytest

from uhop_cc import ir
from uhop_cc.targets.ttmetal import check_structure, emit_ttmetal_project

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="module")
def eltwise(tmp_path_factory):
    src = "kernel add(A: f32[M, N], B: f32[M, N]) -> (C: f32[M, N]) { C[i, j] = relu(A[i, j] + B[i, j]) }"
    b = ir.bind_shapes(ir.load(src, "add.uir")[0], {"M": 32, "N": 64})
    return emit_ttmetal_project(b, tmp_path_factory.mktemp("chk") / "add", cores="multi")


@pytest.fixture(scope="module")
def matmul(tmp_path_factory):
    b = ir.bind_shapes(ir.load_file(EXAMPLES / "matmul.uir")[0], {"M": 32, "N": 64, "K": 96})
    return emit_ttmetal_project(b, tmp_path_factory.mktemp("chk") / "mm")


def _mutate(proj, role, old, new, count=1):
    src = proj.kernels[role]
    assert old in src, old
    return {**proj.kernels, role: src.replace(old, new, count)}


def _problems(proj, kernels=None, host=None):
    return check_structure(kernels or proj.kernels, proj.host if host is None else host, proj.runtime_arg_counts)


def test_clean(eltwise, matmul):
    assert _problems(eltwise) == [] and _problems(matmul) == []


def test_missing_read_barrier(eltwise):
    k = _mutate(eltwise, "reader", "        noc_async_read_barrier();\n", "")
    assert any("without noc_async_read_barrier" in p for p in _problems(eltwise, k))


def test_missing_write_barrier(matmul):
    k = _mutate(matmul, "writer", "        noc_async_write_barrier();\n", "")
    assert any("without noc_async_write_barrier" in p for p in _problems(matmul, k))


def test_push_without_reserve(eltwise):
    k = _mutate(eltwise, "reader", "        cb_reserve_back(cb_B, 1);\n", "")
    probs = _problems(eltwise, k)
    assert any("cb_push_back on CB 1 without a preceding cb_reserve_back" in p for p in probs)
    assert any("CB 1 reserves" in p for p in probs)


def test_unbalanced_producer_consumer(matmul):
    # the compute kernel pops A once per output tile instead of once per k step
    src = matmul.kernels["compute"]
    src = src.replace("            cb_pop_front(cb_A, 1);\n", "").replace(
        "        tile_regs_commit();", "        cb_pop_front(cb_A, 1);\n        tile_regs_commit();")
    probs = _problems(matmul, {**matmul.kernels, "compute": src})
    assert any("CB 0: reader pushes" in p for p in probs), probs


def test_tile_register_order(eltwise):
    k = _mutate(eltwise, "compute", "        tile_regs_wait();\n        pack_tile(0, cb_out);\n",
                "        pack_tile(0, cb_out);\n        tile_regs_wait();\n")
    assert any("pack_tile outside tile_regs_wait" in p for p in _problems(eltwise, k))
    k = _mutate(eltwise, "compute", "        tile_regs_commit();\n", "")
    assert any("tile_regs_wait while the tile registers are acquired" in p for p in _problems(eltwise, k))
    k = _mutate(eltwise, "compute", "        relu_tile(0);\n        tile_regs_commit();\n",
                "        tile_regs_commit();\n        relu_tile(0);\n")
    assert any("relu_tile outside tile_regs_acquire" in p for p in _problems(eltwise, k))


def test_runtime_arg_count_mismatch(eltwise):
    host = eltwise.host.replace("{addr_C, w.count, w.start}", "{addr_C, w.count}")
    assert any("writer: reads 3 runtime args but the host passes [2]" in p for p in _problems(eltwise, host=host))
    k = _mutate(eltwise, "compute", "get_arg_val<uint32_t>(0)", "get_arg_val<uint32_t>(1)")
    probs = _problems(eltwise, k)
    assert any("compute: runtime args read are [1]" in p for p in probs)


def test_tensor_accessor_args_mismatch(eltwise):
    host = eltwise.host.replace("    TensorAccessorArgs(*buf_B).append_to(reader_ct_args);\n", "")
    assert any("reader: 2 TensorAccessorArgs in the kernel but the host appends 1" in p
               for p in _problems(eltwise, host=host))
