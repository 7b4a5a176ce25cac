"""Emit a standalone TT-Metal (Tenstorrent) project for a bound UIR kernel.

    emit_ttmetal_project(bound, "out/add", cores="multi", arch="wormhole_b0")

writes, laid out like the TT-Metalium programming examples:

    <kernel>.cpp                  host program (MeshDevice API): buffers, CBs, kernels, runtime args,
                                  run, compare with the golden output, time, close
    kernels/dataflow/reader.cpp   DRAM -> circular buffers (TensorAccessor + noc_async_read_tile)
    kernels/compute/compute.cpp   the tile program (copy/FPU binary/SFPU ops or matmul_tiles), pack_tile
    kernels/dataflow/writer.cpp   circular buffer -> DRAM
    CMakeLists.txt                builds against an installed tt-metal (find_package(TT-Metalium));
                                  without one: a message and the `uhopc_syntax_check` target
    README.md, plan.json, spec.json
    data/<input>.bin, data/<output>.golden.bin, data/manifest.json   (golden.py's format, float32 files
                                  holding bfloat16-exact values)
    sdk_decls/                    API declarations for the syntax check (not the SDK)
"""
from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ...ir import interpreter
from ...ir.typed import BoundKernel
from ...lower.spec import build_spec
from ...codegen import golden
from .checks import DECLS_DIR, SYNTAX_FLAGS, syntax_commands
from .host import host_runtime_arg_exprs, host_source
from .kernels import KERNEL_FILES, all_sources, runtime_args
from .lowering import TTMetalError, TTMetalPlan, plan_kernel

__all__ = ["emit_ttmetal_project", "ttmetal_supports", "project_names", "TTMetalProject", "bf16_round", "bf16_tolerance",
           "CORES", "ARCHS"]

CORES = ("single", "multi")
ARCHS = ("wormhole_b0", "blackhole")
API_NOTE = ("tt-metal main (2026): MeshDevice host API, TensorAccessorArgs/TensorAccessor, `void kernel_main()` "
            "for every kernel, api/compute + api/dataflow headers, compute_kernel_hw_startup + matmul_init")


def bf16_round(a: Any) -> np.ndarray:
    """Values rounded to bfloat16 (round to nearest even), returned as float32."""
    x = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    out = rounded.astype(np.uint32).view(np.float32).reshape(x.shape)
    return np.where(np.isnan(x), x, out).astype(np.float32)


@dataclass(frozen=True)
class Bf16Tolerance:
    rtol: float
    atol: float


def bf16_tolerance(plan: TTMetalPlan) -> Bf16Tolerance:
    """|got - want| <= atol + rtol * |want|: two bfloat16 ulps (2^-7 relative) per rounding step of the
    tile program plus one, atol grown by sqrt(reduction length) for matmul."""
    rtol = 2.0 ** -7 * (1 + plan.n_ops)
    return Bf16Tolerance(rtol, rtol * math.sqrt(max(1, plan.reduction_length)))


@dataclass
class TTMetalProject:
    root: Path
    name: str
    cores: str
    arch: str
    plan: TTMetalPlan
    host_file: str  # relative to root
    host: str
    kernels: Dict[str, str]  # role -> source
    kernel_files: Dict[str, str]  # role -> path relative to root
    runtime_arg_counts: Dict[str, int]  # what each kernel reads (max get_arg_val index + 1)
    runtime_arg_names: Dict[str, List[str]]
    host_runtime_args: Dict[str, List[str]]  # the host expressions passed to SetRuntimeArgs
    tolerance: Bf16Tolerance
    files: List[str] = field(default_factory=list)  # every file written, relative to root

    def path(self, rel: str) -> Path:
        return self.root / rel

    def syntax_commands(self, cxx: str = "g++"):
        return syntax_commands(self.root, self.arch, self.host_file, cxx=cxx)

    def to_json(self) -> dict:
        return {"root": str(self.root), "name": self.name, "cores": self.cores, "arch": self.arch,
                "host_file": self.host_file, "kernel_files": self.kernel_files,
                "runtime_arg_counts": self.runtime_arg_counts, "runtime_args": self.runtime_arg_names,
                "tolerance": {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol},
                "plan": self.plan.to_json(), "files": self.files}


def ttmetal_supports(bound: BoundKernel) -> Optional[str]:
    """None when the kernel lowers to TT-Metal, else the reason it cannot."""
    try:
        plan_kernel(bound)
    except TTMetalError as e:
        return str(e)
    return None


def _ident(name: str) -> str:
    s = re.sub(r"\W", "_", name)
    return s if s and not s[0].isdigit() else "k_" + s


def project_names(kernel: str) -> Tuple[str, ...]:
    """The top-level names a project for kernel `kernel` writes (what an output folder may hold)."""
    return (f"{_ident(kernel)}.cpp", "kernels", "data", "sdk_decls", "plan.json", "spec.json", "CMakeLists.txt",
            "README.md")


def emit_ttmetal_project(bound: BoundKernel, outdir: Union[str, Path], *, cores: str = "single",
                         arch: str = "wormhole_b0", seed: int = 0,
                         inputs: Optional[Mapping[str, Any]] = None) -> TTMetalProject:
    """Write a standalone TT-Metal project for `bound` into `outdir`.

    Raises TTMetalError (a ValueError) for a program TT-Metal cannot express, ValueError for a bad
    `cores`/`arch`. Inputs are `interpreter.random_inputs(bound, seed)` unless given; tensors are
    rounded to bfloat16 (what the device sees) before the reference interpreter computes the golden
    output, which is rounded to bfloat16 too."""
    if cores not in CORES:
        raise ValueError(f"cores must be one of {', '.join(CORES)}, got {cores!r}")
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    plan = plan_kernel(bound)
    ck = bound.checked
    spec = build_spec(bound)
    name = _ident(ck.name)
    host_file = f"{name}.cpp"
    source = Path(ck.filename).name if ck.filename else "UIR"

    values = dict(interpreter.random_inputs(bound, seed) if inputs is None else inputs)
    device_values: Dict[str, Any] = {}
    for p in ck.inputs:
        if p.is_scalar:
            device_values[p.name] = golden.scalar_value(values[p.name], p.dtype)
        else:
            device_values[p.name] = bf16_round(np.asarray(values[p.name], dtype=np.float64))
    ref = interpreter.run(bound, device_values)
    want = bf16_round(ref[plan.output])
    tol = bf16_tolerance(plan)

    kernels = all_sources(plan, source)
    host = host_source(plan, cores=cores, arch=arch, scalars={n: device_values[n] for n, _ in plan.scalars},
                       rtol=tol.rtol, atol=tol.atol, flops=float(spec.flops), source_file=source)
    rt_names = runtime_args(plan)

    root = Path(outdir)
    written: List[str] = []

    def write(rel: str, text: str) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        written.append(rel)

    write(host_file, host)
    for role, rel in KERNEL_FILES.items():
        write(rel, kernels[role])

    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    tensors = []
    for i in plan.inputs:
        nbytes = golden.write_tensor(data / golden.input_file(i.name), device_values[i.name], "f32", i.shape)
        written.append(f"data/{golden.input_file(i.name)}")
        tensors.append({"name": i.name, "role": "input", "dtype": "f32", "uir_dtype": i.dtype, "shape": list(i.shape),
                        "file": golden.input_file(i.name), "bytes": nbytes, "device_format": "bfloat16",
                        "device_layout": "tiled" if plan.tiled else "pages", "tiles": i.tiles})
    nbytes = golden.write_tensor(data / golden.golden_file(plan.output), want, "f32", plan.output_shape)
    written.append(f"data/{golden.golden_file(plan.output)}")
    tensors.append({"name": plan.output, "role": "output", "dtype": "f32", "uir_dtype": plan.output_dtype,
                    "shape": list(plan.output_shape), "file": golden.golden_file(plan.output), "bytes": nbytes,
                    "device_format": "bfloat16", "device_layout": "tiled" if plan.tiled else "pages",
                    "tiles": plan.num_tiles, "reduction_length": plan.reduction_length, "rtol": tol.rtol,
                    "atol": tol.atol, "golden": "reference interpreter on the bfloat16 inputs, rounded to bfloat16"})
    golden.write_manifest(data, {
        "format": golden.FORMAT, "target": "ttmetal", "kernel": ck.name, "source_file": spec.source_file,
        "seed": seed if inputs is None else None, "sizes": {s: int(bound.sizes[s]) for s in ck.sizes},
        "scalars": {p.name: golden.manifest_scalar(p.dtype, device_values[p.name]) for p in ck.inputs if p.is_scalar},
        "byte_order": "little", "tensors": tensors,
    })
    written.append("data/manifest.json")

    shutil.copytree(DECLS_DIR, root / "sdk_decls", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    written += sorted(str(p.relative_to(root)) for p in (root / "sdk_decls").rglob("*") if p.is_file())

    counts = {role: len(v) for role, v in rt_names.items()}
    plan_json = {"target": "ttmetal", "cores": cores, "arch": arch, "host_file": host_file,
                 "kernel_files": KERNEL_FILES, "runtime_args": rt_names, "runtime_arg_counts": counts,
                 "host_runtime_args": host_runtime_arg_exprs(plan),
                 "tolerance": {"rtol": tol.rtol, "atol": tol.atol}, "api": API_NOTE, "plan": plan.to_json()}
    write("plan.json", json.dumps(plan_json, indent=2) + "\n")
    write("spec.json", spec.dumps() + "\n")
    write("CMakeLists.txt", _cmake(name, host_file, arch))
    write("README.md", _readme(plan, spec, name, host_file, cores, arch, tol, source, rt_names))

    return TTMetalProject(root=root, name=name, cores=cores, arch=arch, plan=plan, host_file=host_file, host=host,
                          kernels=kernels, kernel_files=dict(KERNEL_FILES), runtime_arg_counts=counts,
                          runtime_arg_names=rt_names, host_runtime_args=host_runtime_arg_exprs(plan),
                          tolerance=tol, files=written)


# ---------------------------------------------------------------- CMake
def _cmake(name: str, host_file: str, arch: str) -> str:
    exe = f"metal_uhopc_{name}"
    cmds = []
    for label, argv in syntax_commands(".", arch, host_file, cxx="${CMAKE_CXX_COMPILER}"):
        cmds.append(f"  COMMAND ${{CMAKE_COMMAND}} -E echo \"uhopc_syntax_check: {label}\"")
        cmds.append("  COMMAND " + " ".join(argv))
    flags = " ".join(SYNTAX_FLAGS)
    return f"""cmake_minimum_required(VERSION 3.16)
project(uhopc_{name}_ttmetal LANGUAGES CXX)

# Generated by uhopc. Builds `{exe}` against an installed tt-metal (TT-Metalium), found through
# TT_METAL_HOME (a tt-metal checkout built with ./build_metal.sh) or CMAKE_PREFIX_PATH.
if(DEFINED ENV{{TT_METAL_HOME}})
  list(APPEND CMAKE_PREFIX_PATH "$ENV{{TT_METAL_HOME}}" "$ENV{{TT_METAL_HOME}}/build" "$ENV{{TT_METAL_HOME}}/build_Release"
       "$ENV{{TT_METAL_HOME}}/build/lib/cmake" "$ENV{{TT_METAL_HOME}}/build_Release/lib/cmake")
endif()
if(NOT TARGET TT::Metalium)
  find_package(TT-Metalium QUIET)
endif()

if(TARGET TT::Metalium)
  message(STATUS "uhopc: building {exe} against TT-Metalium")
  add_executable({exe} {host_file})
  target_link_libraries({exe} PUBLIC TT::Metalium)
  target_compile_features({exe} PRIVATE cxx_std_20)
  # The kernels (kernels/) and data (data/) are read at run time from this folder (override with --dir DIR).
  target_compile_definitions({exe} PRIVATE "UHOP_PROJECT_DIR=\\"${{CMAKE_CURRENT_SOURCE_DIR}}\\"")
  enable_testing()
  add_test(NAME {name}_check COMMAND {exe} --repeat 0)
else()
  message(STATUS "uhopc: TT-Metalium (tt-metal) was not found: set TT_METAL_HOME to a built tt-metal checkout "
                 "or add its install prefix to CMAKE_PREFIX_PATH to build {exe}. "
                 "Until then the only target is `uhopc_syntax_check`: it compiles {host_file} and the three kernels "
                 "with `{flags}` against sdk_decls/ (declarations written from the public docs for syntax "
                 "checking; not the SDK).")
  add_custom_target(uhopc_syntax_check
{chr(10).join(cmds)}
    WORKING_DIRECTORY ${{CMAKE_CURRENT_SOURCE_DIR}}
    COMMENT "uhopc: syntax check of the host program and kernels against sdk_decls/ (not the SDK)"
    VERBATIM)
endif()
"""


# ---------------------------------------------------------------- README
def _readme(plan: TTMetalPlan, spec, name: str, host_file: str, cores: str, arch: str, tol: Bf16Tolerance,
            source: str, rt: Mapping[str, List[str]]) -> str:
    exe = f"metal_uhopc_{name}"
    sizes = ", ".join(f"{k}={v}" for k, v in spec.sizes.items()) or "none"
    what = (f"matmul {plan.Mt}x{plan.Kt} by {plan.Kt}x{plan.Nt} tiles" if plan.kind == "matmul"
            else f"elementwise over {plan.num_tiles} tiles")
    L = [
        f"# `{plan.kernel}` on Tenstorrent (TT-Metalium), {cores}-core, {arch}",
        "",
        f"Generated by uhopc from `{source}` (sizes {sizes}): `{plan.output}[...] = {plan.expression}`, {what}.",
        "",
        "## Build and run",
        "",
        "```",
        "export TT_METAL_HOME=/path/to/tt-metal      # built with ./build_metal.sh (or put its prefix in CMAKE_PREFIX_PATH)",
        "cmake -S . -B build && cmake --build build",
        f"./build/{exe} [--device N] [--repeat R] [--dir DIR]",
        "```",
        "",
        f"`{exe}` opens the device as a unit mesh, writes the inputs from `data/`, runs the program once "
        "(this includes the kernels' JIT build), reads the output back and compares it with "
        f"`data/{plan.output}.golden.bin`, printing PASS or FAIL; after a PASS it times R runs (default 20) and "
        "prints the median, GFLOP/s and GB/s. Exit status 0 PASS, 1 FAIL, 3 error.",
        "",
        "Without tt-metal, `cmake -S . -B build` still configures: it says so and defines only the "
        "`uhopc_syntax_check` target (`cmake --build build --target uhopc_syntax_check`), which compiles the host "
        "program and the three kernels "
        "with `g++ -std=c++17 -fsyntax-only` against `sdk_decls/` (API declarations written from the public "
        "documentation for syntax checking; not the SDK), each kernel with its processor's defines.",
        "",
        "## Layout (as the TT-Metalium programming examples)",
        "",
        "| file | what |",
        "|---|---|",
        f"| `{host_file}` | host: device, program, DRAM buffers, circular buffers, kernels, runtime args, run, check, time |",
        "| `kernels/dataflow/reader.cpp` | reader (RISCV_1): DRAM -> CBs with `TensorAccessor` + `noc_async_read_tile` |",
        "| `kernels/compute/compute.cpp` | compute: the tile program below, `pack_tile` to the output CB |",
        "| `kernels/dataflow/writer.cpp` | writer (RISCV_0): output CB -> DRAM with `noc_async_write_tile` |",
        "| `data/` | inputs, golden output, `manifest.json` |",
        "| `plan.json`, `spec.json` | the lowering plan and uhopc's KernelSpec |",
        "",
        "## Device program",
        "",
        "Circular buffers hold two bfloat16 32x32 tiles each: "
        + ", ".join(f"`c_{i.cb}` {i.name}" for i in plan.inputs) + f", `c_16` {plan.output}.",
        "",
        "Compute tile program:",
        "",
    ]
    if plan.kind == "matmul":
        L.append(f"- DST[0] = sum of `matmul_tiles` over the Kt={plan.Kt} tiles of the shared dimension "
                 f"(HiFi4, fp32 accumulation in DST)")
    for o in plan.ops:
        L.append(f"- {o.what}: `{o.call}`")
    L.append("- `pack_tile(0, cb_out)`")
    L += ["", "Runtime args (`get_arg_val<uint32_t>(i)`, set per core by the host):", ""]
    for role in ("reader", "compute", "writer"):
        L.append(f"- {role}: " + ", ".join(f"`{a}`" for a in rt[role]))
    L += [""]
    if cores == "multi":
        L.append(f"Work split: the {plan.num_tiles} output tiles are divided over the device's compute grid with "
                 "`split_work_to_cores`; each core gets `start_tile` and `num_tiles` through its runtime args.")
    else:
        L.append(f"Work split: core (0, 0) produces all {plan.num_tiles} output tiles.")
    L += [""] + [f"Note: {n}." for n in plan.notes] + [
        "",
        "## Checking",
        "",
        f"Inputs are random, rounded to bfloat16; `data/{plan.output}.golden.bin` is uhopc's reference interpreter "
        "on those inputs, rounded to bfloat16. An element passes when |got - want| <= atol + rtol * |want| with "
        f"rtol = {tol.rtol:.4g}, atol = {tol.atol:.4g} (2^-7 per rounding step of the tile program plus one; atol "
        "grown by sqrt(K) for matmul); NaN passes only where the golden value is NaN.",
        "",
        f"API level: {API_NOTE}. Older tt-metal releases used `namespace NAMESPACE {{ void MAIN {{ ... }} }}` for "
        "compute kernels, `compute_kernel_api/...` headers and `mm_init`; build against a current tt-metal.",
        "",
    ]
    return "\n".join(L)
