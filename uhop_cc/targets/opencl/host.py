"""Emit a standalone CMake + C++17 project that runs an OpenCL kernel, checks it and times it.

    emit_opencl_project(bound, generated, "out/matmul")

writes

    kernel.cl          the kernel source (`generated.source`), read by the host at run time
    main.cpp           the host: OpenCL C API only, sizes/scalars/tolerances baked in,
                       launch geometry computed from the @launch annotations
    CMakeLists.txt     find_package(OpenCL), one executable `<kernel>_host`
    README.md          how to build and run
    spec.json          the KernelSpec the project was made from
    data/<input>.bin, data/<output>.golden.bin, data/manifest.json   (see `golden.py`)

The host follows the generic ABI: inputs in declaration order (tensors as buffers, scalars
by value), outputs, the temporaries only if the kernel's argument count includes them
(decided at run time from CL_KERNEL_NUM_ARGS), then every size symbol as `int` (`long` where the kernel
indexes in 64 bits).
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, List, Mapping, Optional, Union

import numpy as np

from ...ir import interpreter
from ...ir.typed import BoundKernel
from ...lower.spec import KernelSpec, build_spec
from ...verify.tolerance import tolerance_for
from ...codegen.cstyle import GeneratedKernel, c_name
from ...codegen.launch import LaunchError, Stage, parse_launch
from ...codegen import golden
from ..hostgen import cpp_launch_expr, cstr, ident, output_reduction_lengths, size_symbols, tensor_rows

__all__ = ["emit_opencl_project", "cpp_launch_expr", "output_reduction_lengths", "TEMPLATE"]

TEMPLATE = Path(__file__).with_name("host_main.cpp.in")

# Scalars by value: f16 scalars travel as float, like the generic kernels declare them.
_SCALAR_TYPE = {"f32": "cl_float", "f64": "cl_double", "f16": "cl_float", "i32": "cl_int"}
_INT32_MAX = 2 ** 31 - 1

def _geometry_case(i: int, st: Stage, symbols: Mapping[str, str]) -> str:
    if st.grid_style:
        raise LaunchError(f"{st.kernel_name}: grid=/block= is the CUDA form; OpenCL stages need global=/local=")
    glob = [cpp_launch_expr(e, symbols) for e in st.global_expr]
    if st.local_expr is not None:
        if len(st.local_expr) != len(st.global_expr):
            raise LaunchError(f"{st.kernel_name}: global has {len(glob)} dims but local has {len(st.local_expr)}")
        loc, has_local = [cpp_launch_expr(e, symbols) for e in st.local_expr], "true"
    else:
        loc, has_local = ["0"] * len(glob), "false"
    note = st.annotation.lstrip("/ ").strip()
    return (f"    case {i}:  // {st.kernel_name}: {note}\n"
            f"        return Geometry{{{len(glob)}, {{{', '.join(glob)}}}, {{{', '.join(loc)}}}, {has_local}}};")


def _scalar_literal(dtype: str, value: Union[int, float]) -> str:
    if dtype == "i32":
        return str(value) if value != -2 ** 31 else "(-2147483647 - 1)"
    t = _SCALAR_TYPE[dtype]
    x = float(value)
    if math.isnan(x):
        return f"std::numeric_limits<{t}>::quiet_NaN()"
    if math.isinf(x):
        return ("" if x > 0 else "-") + f"std::numeric_limits<{t}>::infinity()"
    mant, _, exp = x.hex().partition("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}" + ("f" if t == "cl_float" else "")


# ---------------------------------------------------------------- the generated C++ section
def _generated_section(bound: BoundKernel, spec: KernelSpec, stages, scalars: Mapping[str, Any],
                       tolerances: Mapping[str, Any], size_type: str = "cl_int") -> str:
    ck = bound.checked
    symbols = size_symbols(bound)
    L: List[str] = []
    L.append(f"static const char* const kKernelName = {cstr(ck.name)};")
    L.append('static const char* const kKernelFile = "kernel.cl";')
    sizes_text = " ".join(f"{s}={bound.sizes[s]}" for s in ck.sizes) or "(none)"
    L.append(f"static const char* const kSizesText = {cstr(sizes_text)};")
    L.append("")
    L.append("// Size symbols: every stage gets them as `int` after the buffers; the @launch geometry uses them.")
    L.append("namespace sizes {")
    for s in ck.sizes:
        L.append(f"constexpr long long {ident(s)} = {int(bound.sizes[s])};")
    L.append("}  // namespace sizes")
    L.append("")
    if ck.scalars:
        L.append("// Scalar arguments, by value: the values the golden outputs were computed with.")
        L.append("namespace scalars {")
        for p in ck.inputs:
            if p.is_scalar:
                v = scalars[p.name]
                L.append(f"constexpr {_SCALAR_TYPE[p.dtype]} {ident(p.name)} = {_scalar_literal(p.dtype, v)};"
                         f"  // {p.dtype} {v!r}")
        L.append("}  // namespace scalars")
        L.append("")
    L.append(f"static const double kFlops = {float(spec.flops)!r};  // useful operations (KernelSpec.flops)")
    L.append(f"static const double kBytes = {float(spec.bytes_min)!r};  // every input read and output written once "
             "(KernelSpec.bytes_min)")
    L.append("")

    index, rows = tensor_rows(spec, tolerances)
    L.append("// Tensors: inputs, outputs, temporaries. Outputs carry their tolerance (rtol, atol).")
    L.append("static const Tensor kTensors[] = {")
    L.extend(rows)
    L.append("};")
    n_inputs = len(ck.inputs)
    L.append(f"static constexpr int kNumInputArgs = {n_inputs};  // inputs, scalars included")
    L.append(f"static constexpr int kNumOutputs = {len(spec.outputs)};")
    L.append(f"static constexpr int kNumTemps = {len(spec.temps)};")
    L.append(f"static constexpr int kNumSizes = {len(ck.sizes)};")
    L.append("")

    L.append("// The stages, run in this order.")
    L.append("static const Stage kStages[] = {")
    for st in stages:
        L.append(f"    {{{cstr(st.kernel_name)}, {cstr(st.annotation)}}},")
    L.append("};")
    L.append("")
    L.append("// Launch geometry of each stage: its @launch annotation over the size constants.")
    L.append("static Geometry stage_geometry(int stage) {")
    L.append("    switch (stage) {")
    for i, st in enumerate(stages):
        L.append(_geometry_case(i, st, symbols))
    L.append("    }")
    L.append('    die("no stage " + std::to_string(stage));')
    L.append("}")
    L.append("")

    L.append("// Kernel arguments in ABI order; buffers[i] is the buffer of kTensors[i].")
    L.append("static void set_args(cl_kernel k, const std::vector<cl_mem>& buffers, bool with_temps) {")
    L.append("    cl_uint i = 0;")
    for p in ck.inputs:
        if p.is_scalar:
            L.append(f"    set_arg(k, i++, scalars::{ident(p.name)}, {cstr(p.name)});")
        else:
            L.append(f"    set_arg(k, i++, buffers[{index[p.name]}], {cstr(p.name)});")
    for p in ck.outputs:
        L.append(f"    set_arg(k, i++, buffers[{index[p.name]}], {cstr(p.name)});")
    if spec.temps:
        L.append("    if (with_temps) {")
        for t in spec.temps:
            L.append(f"        set_arg(k, i++, buffers[{index[t.name]}], {cstr(t.name)});")
        L.append("    }")
    else:
        L.append("    (void)with_temps;  // no temporaries")
    for s in ck.sizes:
        L.append(f"    set_arg(k, i++, static_cast<{size_type}>(sizes::{ident(s)}), {cstr(s)});")
    L.append("}")
    return "\n".join(L)


# ---------------------------------------------------------------- CMake, README
def _cmake(name: str) -> str:
    exe = f"{name}_host"
    return f"""cmake_minimum_required(VERSION 3.16)
project({exe} LANGUAGES CXX)

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

find_package(OpenCL REQUIRED)

add_executable({exe} main.cpp)
target_link_libraries({exe} PRIVATE OpenCL::OpenCL)
# kernel.cl and data/ are read at run time from this folder (override with --dir DIR),
# so an edited kernel.cl needs no rebuild.
target_compile_definitions({exe} PRIVATE "UHOP_PROJECT_DIR=\\"${{CMAKE_CURRENT_SOURCE_DIR}}\\"")
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options({exe} PRIVATE -Wall -Wextra)
endif()

enable_testing()
add_test(NAME {name}_check COMMAND {exe} --repeat 0)
"""


def _readme(bound: BoundKernel, spec: KernelSpec, stages, tolerances, scalars, k_lens: Mapping[str, int]) -> str:
    name = bound.name
    exe = f"{name}_host"
    sizes = ", ".join(f"{s}={bound.sizes[s]}" for s in bound.checked.sizes) or "none"
    lines = [
        f"# `{name}`: standalone OpenCL host",
        "",
        f"Generated by uhopc from `{spec.source_file}` with sizes {sizes}.",
        "",
        "```",
        "cmake -B build && cmake --build build",
        f"./build/{exe} [--device N] [--repeat R]",
        "```",
        "",
        f"`{exe}` builds `kernel.cl` for the first OpenCL device (or device N, counting the devices of all "
        "platforms; `--list` shows them), runs its stages in order on the inputs in `data/`, compares every "
        "output with the reference interpreter's (`data/<output>.golden.bin`) and prints `PASS` or `FAIL` "
        "with the largest absolute and relative error per output. After a PASS it times R runs (default 20) "
        "with OpenCL profiling events and prints the median kernel time, GFLOP/s and GB/s.",
        "",
        "Exit status: 0 PASS, 1 FAIL, 2 the kernel did not build (the build log is printed), 3 any other error.",
        "",
        "Other options: `--dir DIR` (the folder holding `kernel.cl` and `data/`; by default this folder, "
        "as configured), `--kernel FILE` (another source with the same ABI and stages), "
        "`--build-options \"...\"` (passed to clBuildProgram). `cd build && ctest` runs the check once.",
        "",
        "## Kernel",
        "",
        "Stages (one `__kernel` each, in order):",
        "",
    ]
    for st in stages:
        lines.append(f"- `{st.kernel_name}`: `{st.annotation.lstrip('/ ').strip()}`")
    lines += [
        "",
        "Arguments: inputs in declaration order (tensors as buffers, scalars by value), outputs, the "
        "temporaries (only if the kernel's argument count includes them), then every size symbol as `int`. "
        "Tensors are dense row-major; f16 is stored as 16-bit half.",
        "",
        "| tensor | role | dtype | shape | file |",
        "|---|---|---|---|---|",
    ]
    for role, specs in (("input", spec.inputs), ("output", spec.outputs), ("temp", spec.temps)):
        for t in specs:
            file = {"input": f"data/{golden.input_file(t.name)}", "output": f"data/{golden.golden_file(t.name)}",
                    "temp": "(scratch)"}[role]
            lines.append(f"| `{t.name}` | {role} | {t.dtype} | {list(t.shape)} | `{file}` |")
    if scalars:
        lines += ["", "Scalars: " + ", ".join(f"`{k}` = {v!r}" for k, v in scalars.items()) + "."]
    lines += [
        "",
        "An output element passes when |got - expected| <= atol + rtol * |expected|, the tolerances grown by "
        "the square root of the longest reduction the output depends on ("
        + "; ".join(f"`{n}`: {k_lens[n]} term{'' if k_lens[n] == 1 else 's'}, rtol {t.rtol:.3g}, "
                    f"atol {t.atol:.3g}" for n, t in tolerances.items())
        + "); NaN passes only where the reference is NaN, and an element the kernel never wrote (still "
        "holding the NaN/sentinel poison) never passes.",
        "",
        f"Work: {spec.flops} flops, {spec.bytes_min} bytes minimum traffic (`spec.json` has the full KernelSpec).",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- entry point
def emit_opencl_project(bound: BoundKernel, generated: GeneratedKernel, outdir: Union[str, Path], *,
                        seed: int = 0, inputs: Optional[Mapping[str, Any]] = None) -> Path:
    """Write a standalone CMake project for `generated` (an OpenCL kernel of `bound`) into `outdir`.

    Inputs are `interpreter.random_inputs(bound, seed)` unless `inputs` are given; the golden
    outputs are `interpreter.run(bound, inputs)`. Returns `outdir`. Raises `LaunchError` for a
    source without usable @launch stages and `ValueError` for bad inputs."""
    if generated.target != "opencl":
        raise ValueError(f"emit_opencl_project needs an OpenCL kernel, got target `{generated.target}`")
    ck = bound.checked
    spec = build_spec(bound)
    wide = generated.params.get("index_bits") == 64  # the kernel takes 64-bit sizes
    for s in ck.sizes:
        if not 0 <= int(bound.sizes[s]) <= (2 ** 63 - 1 if wide else _INT32_MAX):
            raise ValueError(f"size {s}={bound.sizes[s]} does not fit the kernel's `int` sizes "
                             "(a kernel rendered for this shape takes them as 64-bit)")

    stages = parse_launch(generated.source)
    symbols = size_symbols(bound)
    for st in stages:  # fail here, not in the C++, for an annotation that cannot run
        for e in st.global_expr + (st.local_expr or ()):
            cpp_launch_expr(e, symbols)
        st.geometry({k: bound.sizes[s] for s in ck.sizes for k in (s, c_name(s))})

    values = dict(interpreter.random_inputs(bound, seed) if inputs is None else inputs)
    outputs = interpreter.run(bound, values)  # also validates names and shapes
    scalars = {p.name: golden.scalar_value(values[p.name], p.dtype) for p in ck.inputs if p.is_scalar}

    k_lens = output_reduction_lengths(bound)
    tolerances = {t.name: tolerance_for(t.dtype, k_lens[t.name]) for t in spec.outputs}
    for t in spec.outputs:
        arr = np.asarray(outputs[t.name])
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            warnings.warn(f"the reference output `{t.name}` holds NaN for these inputs; the kernel must "
                          "produce NaN at the same places to pass", RuntimeWarning, stacklevel=2)

    out = Path(outdir)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    (out / "kernel.cl").write_text(generated.source)

    tensors = []
    for t in spec.inputs:
        nbytes = golden.write_tensor(data / golden.input_file(t.name), values[t.name], t.dtype, t.shape)
        tensors.append({"name": t.name, "role": "input", "dtype": t.dtype, "shape": list(t.shape),
                        "file": golden.input_file(t.name), "bytes": nbytes})
    for t in spec.outputs:
        nbytes = golden.write_tensor(data / golden.golden_file(t.name), outputs[t.name], t.dtype, t.shape)
        tensors.append({"name": t.name, "role": "output", "dtype": t.dtype, "shape": list(t.shape),
                        "file": golden.golden_file(t.name), "bytes": nbytes,
                        "reduction_length": k_lens[t.name], "rtol": tolerances[t.name].rtol,
                        "atol": tolerances[t.name].atol})
    for t in spec.temps:
        tensors.append({"name": t.name, "role": "temp", "dtype": t.dtype, "shape": list(t.shape), "file": None,
                        "bytes": t.nbytes})
    golden.write_manifest(data, {
        "format": golden.FORMAT, "kernel": ck.name, "source_file": spec.source_file,
        "seed": seed if inputs is None else None, "sizes": {s: int(bound.sizes[s]) for s in ck.sizes},
        "scalars": {p.name: golden.manifest_scalar(p.dtype, scalars[p.name]) for p in ck.inputs if p.is_scalar},
        "byte_order": "little", "tensors": tensors,
    })

    main = TEMPLATE.read_text().replace("@NAME@", ck.name)
    # sizes travel as the kernel declares them: `long` (cl_long) where it indexes in 64 bits
    size_type = "cl_long" if generated.params.get("index_bits") == 64 else "cl_int"
    main = main.replace("@GENERATED@", _generated_section(bound, spec, stages, scalars, tolerances, size_type))
    (out / "main.cpp").write_text(main)
    (out / "CMakeLists.txt").write_text(_cmake(ck.name))
    (out / "README.md").write_text(_readme(bound, spec, stages, tolerances, scalars, k_lens))
    (out / "spec.json").write_text(spec.dumps() + "\n")
    return out
