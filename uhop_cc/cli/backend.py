"""Back-end commands: compile, spec, devices."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import targets
from . import ai as ai_cli
from .device_args import bind_args, open_device


def register(sub) -> None:
    p = sub.add_parser("compile", help="generate, build, validate and time a kernel",
                       description="Lower a UIR kernel to a target, build it, validate it against the reference "
                                   "interpreter on fresh random inputs and time it.")
    p.add_argument("file")
    p.add_argument("--target", default=targets.DEFAULT, choices=targets.names(),
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


def cmd_compile(args) -> int:
    from ..ai.loop import scrubber_for  # here: the LLM stack loads only for a compile
    from ..pipeline import compile_bound, strategies

    ai_opts = ai_cli.compile_options(args)  # None without --ai; exits 2 with one line when a key is missing
    target = targets.get(args.target)
    if not target.runs_kernels:
        ignored = [opt for opt, given in (("--kernel-source", args.kernel_source),
                                          ("--strategy", args.strategy != "auto"),
                                          ("--no-validate", args.no_validate), ("--emit-host", args.emit_host))
                   if given]
        if ignored:  # a project writer has no candidates, validation or host of ours: refuse, do not ignore
            print(f"uhopc compile: error: {', '.join(ignored)} do(es) not apply to --target {target.name} "
                  "(it writes a standalone project)", file=sys.stderr)
            return 2
    bound = bind_args(args, default_size=target.default_size)
    why = target.unsupported(bound)
    if why:  # a construct the target cannot express: one line naming it, nothing written
        print(f"{args.file}: error: {why}", file=sys.stderr)
        return 2
    outdir = _checked_outdir(args, bound, also=target.output_names(bound))
    params = {k: getattr(args, k) for k in target.compile_params} or None  # TT-Metal: --cores, --arch
    user = _user_kernel(args, bound) if args.kernel_source else None
    if args.strategy not in ("auto", "generic"):
        s = strategies(bound, args.target)
        if args.strategy not in s["applicable"]:
            why = (f"does not apply to kernel `{bound.name}`" if args.strategy in s["known"]
                   else f"is unknown for {args.target} (known: {', '.join(s['known'])})")
            print(f"error: --strategy {args.strategy} {why}; strategies that apply to `{bound.name}`: "
                  f"{', '.join(s['applicable'])}", file=sys.stderr)
            return 2
    device = open_device(args.device, args.target)
    _refuse_if_too_big(args, bound, device, user is not None)
    quiet = args.json
    say = (lambda m: None) if quiet else (lambda m: print(f"uhopc: {m}...", file=sys.stderr, flush=True))
    result = compile_bound(bound, target=args.target, device=device, strategy=args.strategy, params=params,
                           validate=not args.no_validate, time=not args.no_time, outdir=outdir,
                           emit_host=args.emit_host, roofline=not (args.no_roofline or args.no_time),
                           progress=say, ai=ai_opts, use_cache=not args.no_cache, kernel_source=user)
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
    from ..stages import device_runs
    from ..verify import memory
    if not device_runs(device):  # a compile-only device (CUDA with NVRTC only): nothing is allocated
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


def _checked_outdir(args, bound, also=()) -> Path:
    """-o (default ./uhopc-out/KERNEL), checked before any work: exits 2 with one line when the
    outputs could not be written there (`also`: the names the target's project writes)."""
    from ..output_folder import unwritable_reason
    outdir = Path(args.outdir) if args.outdir else Path("uhopc-out") / bound.name
    why = unwritable_reason(outdir, also=also)
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

    bound = bind_args(args)
    hw = None if args.no_device else open_device(args.device).fingerprint()
    print(build_spec(bound, hw).dumps())
    return 0


def cmd_devices(args) -> int:
    found = {name: targets.get(name).devices() for name in targets.runnable()}
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not any(found.values()):
        print("no OpenCL devices found (install an ICD such as Debian's pocl-opencl-icd)")
        return 1
    for name, infos in found.items():
        for info in infos:
            print(targets.get(name).device_line(info))
    return 0
