#!/usr/bin/env python3
"""esteira's no-op run beside DVC's, on the same 12-stage chain, in one session.

Builds two equivalent pipelines in a work directory: a chain of 12 stages, each copying the
previous stage's file (`cp`), as a `dvc.yaml` (DVC) and as an esteira pipeline of `command`
stages. Runs each once to fill its cache, then times --runs fully cached runs of each,
interleaved (so both see the same machine), each a whole process timed with
time.perf_counter around subprocess.run, and prints the medians and their ratio.

    pip install dvc
    cargo build --release -p esteira
    python3 scripts/bench_noop.py --runs 20

Both tools check all 12 stages and their files and run nothing. DVC needs a git repository
(or `--no-scm`; it is used here); esteira needs nothing.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

STAGES = 12


def run(cmd, cwd, check=True):
    return subprocess.run(cmd, cwd=cwd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def dvc_chain(root: Path):
    root.mkdir(parents=True)
    (root / "s0.txt").write_text("esteira no-op benchmark\n" * 1000)
    run(["dvc", "init", "--no-scm", "-q"], root)
    lines = ["stages:"]
    for i in range(1, STAGES + 1):
        lines += [
            f"  s{i}:",
            f"    cmd: cp s{i - 1}.txt s{i}.txt",
            f"    deps: [s{i - 1}.txt]",
            f"    outs: [s{i}.txt]",
        ]
    (root / "dvc.yaml").write_text("\n".join(lines) + "\n")
    run(["dvc", "repro", "-q"], root)


def esteira_chain(root: Path, esteira: str):
    root.mkdir(parents=True)
    (root / "s0.txt").write_text("esteira no-op benchmark\n" * 1000)
    lines = ['[pipeline]', 'name = "noop"', 'store = "store"', ""]
    for i in range(1, STAGES + 1):
        src = "file:s0.txt" if i == 1 else f"s{i - 1}.out"
        lines += [
            f"[stages.s{i}]",
            'kind = "command"',
            f'inputs = {{ src = "{src}" }}',
            f"[stages.s{i}.params]",
            'run = ["cp", "{inputs.src}", "{outputs.out}"]',
            'outputs = { out = "txt" }',
            "",
        ]
    (root / "esteira.toml").write_text("\n".join(lines))
    run([esteira, "-q", "run"], root)


def timed(cmd, cwd):
    t = time.perf_counter()
    r = run(cmd, cwd, check=False)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}: {r.stderr[-2000:]}")
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="no-op runs of each tool (default 20)")
    ap.add_argument("--work", default="/tmp/esteira-noop-bench", help="work directory (replaced)")
    ap.add_argument("--esteira", default=str(Path(__file__).resolve().parent.parent / "target/release/esteira"))
    args = ap.parse_args()
    if shutil.which("dvc") is None:
        sys.exit("dvc is not installed: pip install dvc")
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    dvc_chain(work / "dvc")
    esteira_chain(work / "esteira", args.esteira)
    # The no-op runs really run nothing: each says so.
    status = run(["dvc", "status"], work / "dvc").stdout
    if "up to date" not in status:
        sys.exit(f"dvc has work left after its first run: {status}")
    dry = run([args.esteira, "status"], work / "esteira").stdout
    dvc_times, esteira_times = [], []
    for _ in range(args.runs):
        dvc_times.append(timed(["dvc", "repro", "-q"], work / "dvc"))
        esteira_times.append(timed([args.esteira, "-q", "run"], work / "esteira"))
    dvc_version = run(["dvc", "--version"], work).stdout.strip()
    d, e = statistics.median(dvc_times), statistics.median(esteira_times)
    print(f"{STAGES}-stage cp chain, {args.runs} interleaved no-op runs of each, whole processes:")
    print(f"  dvc {dvc_version} repro: median {d * 1000:.1f} ms (min {min(dvc_times) * 1000:.1f}, max {max(dvc_times) * 1000:.1f})")
    print(
        f"  esteira run:     median {e * 1000:.2f} ms (min {min(esteira_times) * 1000:.2f}, "
        f"max {max(esteira_times) * 1000:.2f})"
    )
    print(f"  ratio dvc / esteira: {d / e:.0f}x")
    print(f"esteira status before timing:\n{dry}", end="")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
