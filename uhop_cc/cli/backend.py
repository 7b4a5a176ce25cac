"""Back-end commands: compile, spec, devices."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import ir


def register(sub) -> None:
    p = sub.add_parser("compile", help="generate, build, validate and time a kernel",
                       description="Lower a UIR kernel to a target, build it, validate it against the reference "
                                   "interpreter on fresh random inputs and time it.")
    p.add_argument("file")
    p.add_argument("--target", default="opencl", choices=["opencl", "cuda", "ttmetal"],
                   help="code generation target (cuda without a GPU: NVRTC compile check only; "
                        "ttmetal writes a standalone TT-Metalium project)")
    p.add_argument("--cores", default="single", choices=["single", "multi"], help="ttmetal: core grid")
    p.add_argument("--arch", default="wormhole_b0", choices=["wormhole_b0", "blackhole"], help="ttmetal: device")
    p.add_argument("--shapes", help="sizes: M=1024,N=2048 or one shape per input tensor: 1024x512,512x2048 "
                                    "(default: every size 256)")
    p.add_argument("--kernel", help="the kernel to compile when the file holds several")
    p.add_argument("-o", "--outdir", help="write kernel source, spec.json and report.json here "
                                          "(default: ./uhopc-out/KERNEL)")
    p.add_argument("--device", help="device index or name part (see `uhopc devices`)")
    p.add_argument("--strategy", default="auto", help="auto (template if one matches, else generic), generic, "
                                                     "or a template name")
    p.add_argument("--no-validate", action="store_true", help="skip validation against the reference")
    p.add_argument("--no-time", action="store_true", help="skip timing")
    p.add_argument("--emit-host", action="store_true", help="also write a standalone C++/CMake host project")
    p.add_argument("--no-roofline", action="store_true",
                   help="skip measuring the device's peaks for the roofline fraction")
    p.add_argument("--json", action="store_true", help="print report.json instead of the summary")
    p.add_argument("--kernel-source", metavar="FILE",
                   help="judge your own kernel (.cl or .cu, following the kernel ABI) instead of generating one: "
                        "static analysis of the preprocessed source, then build, validation against the UIR "
                        "reference and timing in a child process")
    from . import ai as ai_cli
    ai_cli.add_compile_arguments(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("spec", help="print the KernelSpec of a kernel as JSON",
                       description="Print the KernelSpec (ABI, iteration space, FLOP and byte counts, category, "
                                   "hardware fingerprint) as JSON.")
    p.add_argument("file")
    p.add_argument("--shapes", required=True)
    p.add_argument("--kernel")
    p.add_argument("--device", help="include this OpenCL device's fingerprint")
    p.add_argument("--no-device", action="store_true", help="leave the hardware fingerprint out")
    p.set_defaults(func=cmd_spec)

    p = sub.add_parser("devices", help="list OpenCL platforms and devices")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_devices)


def _device_arg(text):
    if text is None:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _open_device(text, target="opencl"):
    if target == "cuda":
        from ..targets.cuda.runtime import CUDADevice, CudaUnavailable, cuda_available, nvrtc_available
        if not cuda_available() and not nvrtc_available():
            print("error: --target cuda needs the CUDA extra (NVRTC, and the driver API where a GPU exists): "
                  "pip install \"uhopc[cuda]\"  (cuda-bindings and nvidia-cuda-nvrtc)", file=sys.stderr)
            raise SystemExit(2)
        if text is None and not cuda_available():
            return None  # the pipeline falls back to an NVRTC compile check
        try:
            return CUDADevice.open(_device_arg(text))
        except (CudaUnavailable, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2)
    from ..targets.opencl.runtime import OpenCLDevice, OpenCLUnavailable
    try:
        return OpenCLDevice.open(_device_arg(text))
    except (OpenCLUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)


def _bind(args, default_size=256):
    k = ir.select_kernel(ir.load_file(args.file), args.kernel)
    shapes = args.shapes if args.shapes else {s: default_size for s in k.sizes}
    return ir.bind_shapes(k, shapes)


def cmd_compile_ttmetal(args) -> int:
    from ..targets.ttmetal import TTMetalError, emit_ttmetal_project, syntax_check

    bound = _bind(args, default_size=1024)
    outdir = _checked_outdir(args, bound, replaced=False)  # the project is written in place
    try:
        project = emit_ttmetal_project(bound, outdir, cores=args.cores, arch=args.arch)
    except TTMetalError as e:
        print(f"{args.file}: error: {e}", file=sys.stderr)
        return 2
    check = syntax_check(outdir)
    if args.json:
        print(json.dumps({"ok": check.ok, "project": project.to_json(), "syntax_check": check.to_json()
                          if hasattr(check, "to_json") else str(check)}, indent=2))
        return 0 if check.ok else 1
    print(f"{bound.name}: TT-Metal project ({args.cores}-core, {args.arch}) in {outdir}")
    for role, path in project.kernel_files.items():
        print(f"  {role:<8} {path}  ({project.runtime_arg_counts.get(role, 0)} runtime args)")
    print(f"  host     {project.host_file}")
    print("  " + check.format().replace("\n", "\n  "))
    print("  build against the SDK: cmake -S . -B build && cmake --build build (see README.md there)")
    return 0 if check.ok else 1


def cmd_compile(args) -> int:
    from ..pipeline import compile_bound
    from . import ai as ai_cli

    ai_opts = ai_cli.compile_options(args)  # None without --ai; exits 2 with one line when a key is missing
    if args.target == "ttmetal":
        rc = cmd_compile_ttmetal(args)
        if ai_opts is not None:
            from ..ai.loop import improve
            print(improve(_bind(args, default_size=1024), target="ttmetal", device=None, baseline=None,
                          **ai_opts).summary)
        return rc
    bound = _bind(args)
    outdir = _checked_outdir(args, bound)
    user = _user_kernel(args, bound) if args.kernel_source else None
    if args.strategy not in ("auto", "generic"):
        from ..pipeline import strategies
        s = strategies(bound, args.target)
        if args.strategy not in s["applicable"]:
            why = (f"does not apply to kernel `{bound.name}`" if args.strategy in s["known"]
                   else f"is unknown for {args.target} (known: {', '.join(s['known'])})")
            print(f"error: --strategy {args.strategy} {why}; strategies that apply to `{bound.name}`: "
                  f"{', '.join(s['applicable'])}", file=sys.stderr)
            return 2
    device = _open_device(args.device, args.target)
    _refuse_if_too_big(args, bound, device, user is not None)
    quiet = args.json
    say = (lambda m: None) if quiet else (lambda m: print(f"uhopc: {m}...", file=sys.stderr, flush=True))
    result = compile_bound(bound, target=args.target, device=device, strategy=args.strategy,
                           validate=not args.no_validate, time=not args.no_time, outdir=outdir,
                           emit_host=args.emit_host, roofline=not (args.no_roofline or args.no_time),
                           progress=say, ai=ai_opts, use_cache=not args.no_cache, kernel_source=user)
    from ..ai.loop import scrubber_for
    scrub = scrubber_for(ai_opts)
    if args.json:
        print(scrub.json(result.to_json()))
    else:
        print(scrub.text(result.summary()))
    if result.write_error:
        if args.json:  # the summary says it otherwise
            print(f"error: {scrub.text(result.write_error)}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1


def _refuse_if_too_big(args, bound, device, untrusted: bool) -> None:
    """Exit 2 with one line, before anything is allocated, when the job cannot fit in memory:
    validation holds the reference's copies, --no-validate only the timed run's buffers."""
    from ..verify import memory
    if device is None:  # CUDA without a GPU: NVRTC compiles, nothing runs
        return
    in_host, device_bytes = memory.device_facts(device)
    timed = "build" if args.no_time else "time"
    job = timed if args.no_validate or untrusted else "validate"  # an untrusted kernel is judged in a child
    why = memory.refusal(memory.estimate(bound, job, in_host), device_bytes)
    if why and job == "validate" and memory.refusal(memory.estimate(bound, timed, in_host), device_bytes) is None:
        why = why.replace("use smaller --shapes", "use smaller --shapes or --no-validate")
    if why:
        print(f"error: {bound.name} ({', '.join(f'{k}={v}' for k, v in bound.sizes.items())}) {why}", file=sys.stderr)
        raise SystemExit(2)


def _checked_outdir(args, bound, replaced: bool = True) -> Path:
    """-o (default ./uhopc-out/KERNEL), checked before any work: exits 2 with one line when the
    outputs could not be written there."""
    from ..output_folder import unwritable_reason
    outdir = Path(args.outdir) if args.outdir else Path("uhopc-out") / bound.name
    why = unwritable_reason(outdir, replaced)
    if why:
        print(f"error: -o {outdir}: {why}", file=sys.stderr)
        raise SystemExit(2)
    return outdir


def _user_kernel(args, bound):
    """`--kernel-source FILE` as the one candidate; exits 2 with one line when it cannot be read."""
    from ..pipeline import user_kernel
    path = Path(args.kernel_source)
    try:
        data = path.read_bytes()
    except OSError as e:
        print(f"error: cannot read --kernel-source {path}: {e.strerror or e}", file=sys.stderr)
        raise SystemExit(2)
    from ..ai.checks import MAX_SOURCE_BYTES
    if len(data) > MAX_SOURCE_BYTES:
        print(f"error: --kernel-source {path} is larger than {MAX_SOURCE_BYTES} bytes", file=sys.stderr)
        raise SystemExit(2)
    return user_kernel(bound, args.target, data.decode("utf-8", "replace"), str(path))


def cmd_spec(args) -> int:
    from ..lower import build_spec

    bound = _bind(args)
    hw = None if args.no_device else _open_device(args.device).fingerprint()
    print(build_spec(bound, hw).dumps())
    return 0


def cmd_devices(args) -> int:
    from ..targets.opencl.runtime import list_devices

    devs = [d.to_json() for d in list_devices()]
    try:
        from ..targets.cuda.runtime import cuda_available, list_devices as cuda_devices
        cuda = cuda_devices() if cuda_available() else []
    except ImportError:
        cuda = []
    if args.json:
        print(json.dumps({"opencl": devs, "cuda": cuda}, indent=2))
        return 0
    if not devs and not cuda:
        print("no OpenCL devices found (install an ICD such as Debian's pocl-opencl-icd)")
        return 1
    for j in devs:
        print(f"opencl {j.get('index')}: {j.get('name')}  [{j.get('type', '')}]  platform: {j.get('platform')}")
    for j in cuda:
        print(f"cuda   {j.get('index')}: {j.get('name')}")
    return 0
