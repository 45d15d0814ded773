#!/usr/bin/env python3
"""Is esteira's model better or worse than the scikit-learn reference, beyond one split's luck?

One test split of the bundled sample holds ~2 500 rows, so its ROC AUC moves by ±0.025 from the
draw alone. This script runs an esteira sweep over N segregate seeds (each a different grouped,
stratified 70/30 split of the same data) with one more stage, `reference`: a `command` stage
running scripts/sklearn_reference.py on each variant's split (the scikit-learn side, the only part
left in Python). esteira then computes the paired differences (esteira − reference, run by run)
with their Student t 95 % intervals:

    python3 scripts/split_sweep.py                              # 20 seeds, esteira.toml as it is
    python3 scripts/split_sweep.py --seeds 10 -S 'train.lof={ enabled = true, k = 20 }'

which is, by hand:

    esteira sweep -c PIPELINE+reference -S segregate.seed=1..20 --name split-sweep
    esteira runs compare --sweep split-sweep --against reference

The pipeline with the reference stage is written beside the pipeline file (.split-sweep.toml, kept,
so that `esteira runs compare` and `reproduce` can be run again on it). `-S` is passed to the sweep.
The seeds' shared stages (fetch … check_clean) run once; the variants run in parallel within `-j`.
The reference runs under this script's own interpreter (its absolute path, since a command stage
gets a minimal PATH). Needs the `esteira` binary (default target/release/esteira) and scikit-learn, pandas, pyarrow.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

REFERENCE_STAGE = """
# ── added by scripts/split_sweep.py: the scikit-learn reference on the same split ─────────
[stages.reference]
kind = "command"
inputs = {{ script = "file:{script}", model = "train.model", train = "segregate.train", test = "segregate.test" }}
[stages.reference.params]
run = ["{python}", "{{inputs.script}}", "--stage", "{{inputs.model}}", "{{inputs.train}}", "{{inputs.test}}", "{{outputs.metrics}}"]
outputs = {{ metrics = "json" }}
metrics = "metrics"
env = {{ PYTHONHASHSEED = "0", OMP_NUM_THREADS = "1" }}
version_cmd = ["{python}", "-c", "import sklearn, pandas, pyarrow; print(sklearn.__version__, pandas.__version__, pyarrow.__version__)"]
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", default="esteira.toml", type=Path)
    ap.add_argument("--seeds", default=20, type=int)
    ap.add_argument("--first-seed", default=1, type=int)
    ap.add_argument("-S", "--set", action="append", default=[], help="an override passed to the sweep")
    ap.add_argument("--name", default="split-sweep", help="the sweep's name")
    ap.add_argument("-j", "--jobs", default=None, help="esteira's -j")
    ap.add_argument("--esteira", default="target/release/esteira")
    args = ap.parse_args()

    pipeline = args.config.with_name(".split-sweep.toml")
    script = Path(__file__).with_name("sklearn_reference.py").resolve()
    try:
        rel = script.relative_to(pipeline.parent.resolve())
    except ValueError:
        raise SystemExit(f"{script} must be under {pipeline.parent.resolve()} (inputs are paths below the pipeline)")
    pipeline.write_text(args.config.read_text() + REFERENCE_STAGE.format(script=rel, python=sys.executable))
    last = args.first_seed + args.seeds - 1
    sweep = [args.esteira, "sweep", "-q", "-c", str(pipeline), "--name", args.name,
             "-S", f"segregate.seed={args.first_seed}..{last}"]
    for s in args.set:
        sweep += ["-S", s]
    if args.jobs:
        sweep += ["-j", args.jobs]
    # The train stage's collinearity warnings would repeat once per seed; errors still show.
    env = {**os.environ, "ESTEIRA_LOG": os.environ.get("ESTEIRA_LOG", "error")}
    subprocess.run(sweep, check=True, stdout=subprocess.DEVNULL, env=env)
    compare = [args.esteira, "runs", "compare", "-c", str(pipeline), "--sweep", args.name, "--against", "reference",
               "--metric", "evaluate.roc_auc", "--metric", "reference.roc_auc",
               "--metric", "evaluate.balanced_accuracy", "--metric", "reference.balanced_accuracy"]
    return subprocess.run(compare).returncode


if __name__ == "__main__":
    sys.exit(main())
