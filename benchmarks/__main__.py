"""tinyvid's benchmark suite: python -m benchmarks [--quick] [--json PATH] [--only SECTIONS]

Prints the machine and its thread settings, then one table per section, then the two headline
ratios. Every ratio is taken within this one run (the two sides timed in alternating blocks),
so it holds up on a noisy machine better than any absolute time. Nothing here is asserted:
tests check that the suite runs, never how fast.

    kernels   conv2d, pooling, dense: ms, GFLOP/s, beside this run's sgemm and PyTorch
    train     a training step of the document's model: frames/s, tinyvid and PyTorch
    video     read_video's decoding frames/s against PyAV alone
    jit       first-call compile time of the kernels, empty cache and warm cache
    memory    peak RSS of a training epoch from a VideoFolder, at two dataset sizes
    conv3d    Conv3D fwd+bwd beside sgemm and PyTorch; a clip model's training step vs PyTorch
    rnn       GRU and LSTM layers' forward+backward beside torch.nn.GRU / LSTM
    mpi       data-parallel training's per-step Allreduce on 2 MPI ranks (skips without mpiexec)

PyTorch columns need the `torch` extra (pip install -e ".[torch]"); without it they are empty
and the summary says so. `--quick` is a smoke run of under two minutes (fewer repetitions,
fewer rows, smaller memory datasets) that CI runs (.ci/run): its figures are rougher.
"""

import argparse
import json
import platform
import sys
import time

from benchmarks import (
    bench_conv3d,
    bench_jit,
    bench_kernels,
    bench_memory,
    bench_mpi,
    bench_rnn,
    bench_train,
    bench_video,
)
from benchmarks.common import (
    format_table,
    machine_info,
    print_machine_info,
    torch_installed,
    tune_as_training_does,
)

SECTIONS = {"kernels": bench_kernels, "train": bench_train, "video": bench_video,
            "jit": bench_jit, "memory": bench_memory, "conv3d": bench_conv3d, "rnn": bench_rnn,
            "mpi": bench_mpi}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="tinyvid's benchmark suite: " + ", ".join(
            SECTIONS) + ". Ratios are taken within one run.")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of under two minutes (fewer repetitions and rows)")
    parser.add_argument("--json", metavar="PATH", help="also write every row and the machine "
                        "facts to PATH as JSON")
    parser.add_argument("--only", metavar="SECTIONS", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown or not args.sections:
        parser.error(f"--only: unknown section(s) {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(SECTIONS)}")
    return args


def summary(results):
    """The two headline ratios, as {label: text}, from whichever sections ran."""
    lines = {}
    kernels = results.get("kernels")
    if kernels:
        conv = next(r for r in kernels if r["name"] == bench_kernels.CONV2_FWD_BWD)
        lines["conv2d fwd+bwd / sgemm"] = (
            f"{conv['ratio']:.2f} ({conv['gflops']:.0f} of {conv['sgemm_gflops']:.0f} GFLOP/s; "
            f"{conv['name']}, x{bench_kernels.CONV2[0]} w{bench_kernels.CONV2[1]})")
    train = results.get("train")
    if train:
        step = train[0]
        if step["ratio_vs_torch"] is None:
            lines["training step tinyvid / PyTorch"] = (
                f"PyTorch not installed; tinyvid {step['tinyvid_fps']:.0f} frames/s")
        else:
            lines["training step tinyvid / PyTorch"] = (
                f"{step['ratio_vs_torch']:.2f}x (frames/s: tinyvid {step['tinyvid_fps']:.0f}, "
                f"PyTorch {step['torch_fps']:.0f})")
    return lines


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
    tune_as_training_does()  # before anything runs a parallel kernel (machine_info does)
    info = machine_info()
    print(f"tinyvid benchmarks: {command.strip()}")
    print_machine_info(info)
    results = {}
    for name in args.sections:
        module = SECTIONS[name]
        section_start = time.perf_counter()
        results[name] = module.run(quick=args.quick)
        print(f"\n## {module.TITLE} [{time.perf_counter() - section_start:.0f} s]\n")
        print(format_table(results[name], module.COLUMNS), flush=True)
        if not torch_installed() and any(key.startswith("torch") for key, _, _ in module.COLUMNS):
            print("(torch columns: PyTorch not installed; pip install -e '.[torch]' adds them)")
    headline = summary(results)
    if headline:
        print("\n## Summary\n")
        width = max(map(len, headline))
        for label, text in headline.items():
            print(f"{label:>{width}}: {text}")
    seconds = time.perf_counter() - started
    print(f"\n({'quick run, ' if args.quick else ''}{seconds:.0f} s in all)")
    if args.json:
        document = {"command": command.strip(), "quick": args.quick, "seconds": seconds,
                    "python": platform.python_version(), "machine": info,
                    "sections": results, "summary": headline}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
