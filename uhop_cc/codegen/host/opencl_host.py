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
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

from ...ir import interpreter
from ...ir import nodes as N
from ...ir.typed import BoundKernel
from ...lower.spec import KernelSpec, build_spec
from ...verify.tolerance import reduction_length, tolerance_for
from ..cstyle import GeneratedKernel, c_name
from ..launch import LaunchError, Node, Stage, parse_launch
from . import golden

__all__ = ["emit_opencl_project", "cpp_launch_expr", "output_reduction_lengths", "TEMPLATE"]

TEMPLATE = Path(__file__).with_name("opencl_main.cpp.in")

_DTYPE_ENUM = {"f32": "DType::F32", "f64": "DType::F64", "f16": "DType::F16", "i32": "DType::I32"}
# Scalars by value: f16 scalars travel as float, like the generic kernels declare them.
_SCALAR_TYPE = {"f32": "cl_float", "f64": "cl_double", "f16": "cl_float", "i32": "cl_int"}
_INT32_MAX = 2 ** 31 - 1

_CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public
register reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch
template this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile
wchar_t while xor xor_eq main NULL
""".split())


def _ident(name: str) -> str:
    """A UIR identifier as a C++ identifier (inside our own namespaces)."""
    return name + "_" if name in _CPP_KEYWORDS or name.startswith("__") else name


def tensor_rows(spec, tolerances):
    """The host table of tensors (inputs, outputs, temporaries) and each tensor's row in it.

    Shared by the OpenCL and CUDA host emitters: outputs carry their golden file and tolerance."""
    index: Dict[str, int] = {}
    rows = []
    for role, specs in (("Input", spec.inputs), ("Output", spec.outputs), ("Temp", spec.temps)):
        for t in specs:
            index[t.name] = len(rows)
            shape = "{" + ", ".join(str(int(d)) for d in t.shape) + "}"
            if role == "Input":
                file, rtol, atol = golden.input_file(t.name), 0.0, 0.0
            elif role == "Output":
                file = golden.golden_file(t.name)
                rtol, atol = tolerances[t.name].rtol, tolerances[t.name].atol
            else:
                file, rtol, atol = "", 0.0, 0.0
            rows.append(f"    {{{_cstr(t.name)}, Role::{role}, {_DTYPE_ENUM[t.dtype]}, {shape}, {_cstr(file)}, "
                        f"{_double(rtol)}, {_double(atol)}}},")
    return index, rows


def _cstr(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("?")
    return '"' + "".join(out) + '"'


def _double(x: float) -> str:
    """A C++ double literal that reads back exactly."""
    if math.isnan(x):
        return "std::numeric_limits<double>::quiet_NaN()"
    if math.isinf(x):
        return ("" if x > 0 else "-") + "std::numeric_limits<double>::infinity()"
    return repr(float(x))


# ---------------------------------------------------------------- @launch trees -> C++
_PREC = {"+": 1, "-": 1, "*": 2, "/": 3}


def cpp_launch_expr(node: Node, symbols: Mapping[str, str]) -> str:
    """A parsed @launch expression as C++ over the size constants (`symbols`: name -> C++).

    `/` is floor division (`floordiv`), `cdiv` and `roundup` are the host's inline functions:
    the same integer semantics as `launch.evaluate`."""

    def go(n: Node, parent: int, right: bool) -> str:
        if isinstance(n, bool):
            raise LaunchError(f"not a @launch expression: {n!r}")
        if isinstance(n, int):
            text = str(n) if abs(n) <= _INT32_MAX else f"{n}LL"
            return f"({text})" if n < 0 else text
        if isinstance(n, str):
            if n not in symbols:
                raise LaunchError(f"@launch uses `{n}`, which is not a size symbol "
                                  f"(sizes: {', '.join(sorted(symbols)) or 'none'})")
            return symbols[n]
        op, a, b = n
        if op in ("cdiv", "roundup"):
            return f"{op}({go(a, 0, False)}, {go(b, 0, False)})"
        if op == "/":
            return f"floordiv({go(a, 0, False)}, {go(b, 0, False)})"
        if op == "-" and a == 0 and not isinstance(a, bool):
            return f"-{go(b, 3, True)}" if parent < 3 else f"(-{go(b, 3, True)})"
        if op not in _PREC:
            raise LaunchError(f"unknown @launch operator {op!r}")
        p = _PREC[op]
        text = f"{go(a, p, False)} {op} {go(b, p, True)}"
        return f"({text})" if p < parent or (right and p == parent) else text

    return go(node, 0, False)


def _symbols(bound: BoundKernel) -> Dict[str, str]:
    out = {}
    for s in bound.checked.sizes:
        out[s] = f"sizes::{_ident(s)}"
        out.setdefault(c_name(s), f"sizes::{_ident(s)}")  # the generic lowering writes sizes as C names
    return out


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
    symbols = _symbols(bound)
    L: List[str] = []
    L.append(f"static const char* const kKernelName = {_cstr(ck.name)};")
    L.append('static const char* const kKernelFile = "kernel.cl";')
    sizes_text = " ".join(f"{s}={bound.sizes[s]}" for s in ck.sizes) or "(none)"
    L.append(f"static const char* const kSizesText = {_cstr(sizes_text)};")
    L.append("")
    L.append("// Size symbols: every stage gets them as `int` after the buffers; the @launch geometry uses them.")
    L.append("namespace sizes {")
    for s in ck.sizes:
        L.append(f"constexpr long long {_ident(s)} = {int(bound.sizes[s])};")
    L.append("}  // namespace sizes")
    L.append("")
    if ck.scalars:
        L.append("// Scalar arguments, by value: the values the golden outputs were computed with.")
        L.append("namespace scalars {")
        for p in ck.inputs:
            if p.is_scalar:
                v = scalars[p.name]
                L.append(f"constexpr {_SCALAR_TYPE[p.dtype]} {_ident(p.name)} = {_scalar_literal(p.dtype, v)};"
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
        L.append(f"    {{{_cstr(st.kernel_name)}, {_cstr(st.annotation)}}},")
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
            L.append(f"    set_arg(k, i++, scalars::{_ident(p.name)}, {_cstr(p.name)});")
        else:
            L.append(f"    set_arg(k, i++, buffers[{index[p.name]}], {_cstr(p.name)});")
    for p in ck.outputs:
        L.append(f"    set_arg(k, i++, buffers[{index[p.name]}], {_cstr(p.name)});")
    if spec.temps:
        L.append("    if (with_temps) {")
        for t in spec.temps:
            L.append(f"        set_arg(k, i++, buffers[{index[t.name]}], {_cstr(t.name)});")
        L.append("    }")
    else:
        L.append("    (void)with_temps;  // no temporaries")
    for s in ck.sizes:
        L.append(f"    set_arg(k, i++, static_cast<{size_type}>(sizes::{_ident(s)}), {_cstr(s)});")
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


# ---------------------------------------------------------------- tolerances
class _Statements:
    """A bound kernel seen through a subset of its statements (for `reduction_length`)."""

    def __init__(self, bound: BoundKernel, body):
        self.checked = type("_Body", (), {"body": tuple(body)})()
        self.range_of = bound.range_of


def output_reduction_lengths(bound: BoundKernel) -> Dict[str, int]:
    """Per output, the longest reduction among the statements it depends on (itself, and the
    statements that computed any tensor it reads, transitively): `verify.tolerance`'s rule
    applied to that output's slice of the kernel, so an elementwise output next to a long
    reduction keeps a tight tolerance."""
    body = bound.checked.body
    writers: Dict[str, List[int]] = {}
    for i, s in enumerate(body):
        writers.setdefault(s.target, []).append(i)
    out = {}
    for p in bound.checked.outputs:
        seen, todo = set(), list(writers.get(p.name, ()))
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            for n in N.walk(body[i].value):
                if isinstance(n, N.Access):
                    todo.extend(j for j in writers.get(n.tensor, ()) if j < i)
        out[p.name] = reduction_length(_Statements(bound, [body[i] for i in sorted(seen)])) if seen else 1
    return out


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
    for s in ck.sizes:
        if not 0 <= int(bound.sizes[s]) <= _INT32_MAX:
            raise ValueError(f"size {s}={bound.sizes[s]} does not fit the ABI's `int`")

    stages = parse_launch(generated.source, "opencl")
    symbols = _symbols(bound)
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
