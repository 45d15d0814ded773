#!/usr/bin/env python3
"""esteira beside a pandas + scikit-learn script doing the same work, at a given data scale.

For each SCALE it

1. generates the UFRN-format tables with `esteira synth --scale SCALE --seed SEED` into
   WORK/scale-SCALE-seed-SEED/data (kept between runs; --regen makes them anew);
2. writes a scratch pipeline file beside them: the repository's esteira.toml with only the fetch
   stages' `file:` URLs pointed at data/ (and, with --checks warn, every check stage's severity
   set to warn), and copies the `file:` inputs it names (suites/) next to it;
3. runs esteira on it cold (a fresh store, `-j JOBS`; the data files are in the OS page cache on
   both sides), sampling the process's CPU time and RSS every --sample-ms from /proc, and reads
   the run record (`esteira runs show latest --json`) for each stage's start and end;
4. times the no-op run: --noop-runs whole-process runs of the fully cached `esteira run`, with
   hyperfine when it is installed (else timed here), reported as the median;
5. runs scripts/pandas_baseline.py on the same data and pipeline file as a separate process, so
   its RSS is its own;
6. prints a table per stage group (read+merge, checks, preprocess, split, train, evaluate):
   wall, CPU and peak RSS of each side and the esteira / pandas ratios, then esteira per stage.

What the figures mean:

- wall: esteira's group wall is the union of its stages' [start, end] from the run record;
  pandas' is the sum of its phases. The whole-process row includes start-up (esteira: opening the
  store, hashing inputs, writing records, `latest/`; pandas: importing pandas and scikit-learn).
- CPU: user + system time of all threads. For the whole process it is exact (wait4's rusage); per
  esteira stage it is the sampled process CPU split evenly among the stages running at each moment
  (so approximate where stages overlap, e.g. the fetches or the checks under -j 2).
- peak RSS: the whole process's is exact (VmHWM via wait4's ru_maxrss); an esteira stage's is the
  highest sampled RSS in its window, raised to the process's VmHWM when the high-water mark rose
  during the window (overlapping stages share that); a pandas phase's is exact (the script resets
  the high-water mark at each phase through /proc/self/clear_refs).
- ratio: esteira / pandas (below 1: esteira is faster or smaller).
- The machine is shared: CPU time is less sensitive to other processes than wall time. The load
  average before and after each measurement is printed and stored.

Not equal work: esteira's checks run Great Expectations suites (the baseline has none); its train
stage also makes quartile bins, chooses LOF by CV (doubling the CV fits) and fixes the threshold;
its evaluate stage computes bootstrap intervals (the pipeline's `bootstrap`), permutation importance,
odds ratios, charts and an HTML report, and every stage writes Parquet into a content-addressed
store. The baseline's evaluate has bootstrap intervals only with --baseline-bootstrap N.

    python3 scripts/bench_compare.py 1 10 100 --checks warn [--work /tmp/esteira-bench] [--markdown]

Results go to WORK/scale-S-seed-N/result.json (and, for several scales, WORK/results.json).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
GROUPS = ["read+merge", "checks", "preprocess", "split", "train", "evaluate"]
GROUP_OF_KIND = {"fetch": "read+merge", "merge": "read+merge", "check": "checks", "preprocess": "preprocess",
                 "segregate": "split", "train": "train", "evaluate": "evaluate"}
KEPT_METRICS = {"rows_out", "train.rows", "test.rows", "roc_auc", "balanced_accuracy", "roc_auc_lower",
                "roc_auc_upper", "balanced_accuracy_lower", "balanced_accuracy_upper"}
PANDAS_PHASES = {"read+merge": ["read", "merge"], "preprocess": ["preprocess"], "split": ["split"],
                 "train": ["train"], "evaluate": ["evaluate"]}


# ── the scratch pipeline file ───────────────────────────────────────────────────────────────

def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v) -> bool:
    return isinstance(v, list) and v != [] and all(isinstance(x, dict) for x in v)


def to_toml(doc: dict) -> str:
    """A TOML document of `doc` (what tomllib reads back as `doc`): tables as [headers], arrays
    of tables as [[headers]], the rest inline."""
    lines = []

    def table(d: dict, path: str):
        for k, v in d.items():
            if not isinstance(v, dict) and not _is_table_array(v):
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in d.items():
            sub = f"{path}.{_toml_key(k)}" if path else _toml_key(k)
            if isinstance(v, dict):
                lines.extend(["", f"[{sub}]"])
                table(v, sub)
            elif _is_table_array(v):
                for item in v:
                    lines.extend(["", f"[[{sub}]]"])
                    table(item, sub)

    table(doc, "")
    return "\n".join(lines).lstrip("\n") + "\n"


def write_pipeline(src: Path, workdir: Path, data: Path, checks: str) -> tuple[Path, list[str]]:
    """WORK/esteira.toml: `src` with the fetch URLs pointed at `data` (and check severities set to
    warn when `checks` is "warn"); the `file:` inputs copied beside it. Returns it and the changes."""
    doc = tomllib.loads(src.read_text())
    changes = []
    for name, st in doc["stages"].items():
        params = st.get("params", {})
        if st["kind"] == "fetch":
            url = params.get("url", "")
            if not url.startswith("file:"):
                raise SystemExit(f"{src}: fetch stage `{name}` reads {url}; only file: URLs can be pointed at synth data")
            new = "file:" + os.path.relpath(data / Path(url[5:]).name, workdir)
            if not (workdir / new[5:]).exists():
                raise SystemExit(f"{src}: fetch stage `{name}` reads {url}, which synth did not write ({new[5:]})")
            params["url"] = new
            changes.append(f"{name}.url = {new}")
        if st["kind"] == "check" and checks == "warn" and params.get("severity", "error") != "warn":
            st.setdefault("params", params)["severity"] = "warn"
            changes.append(f"{name}.severity = warn")
        for inp in st.get("inputs", {}).values():
            if inp.startswith("file:"):
                rel = Path(inp[5:])
                if rel.is_absolute() or ".." in rel.parts:
                    raise SystemExit(f"{src}: stage `{name}` reads {inp}; only paths under the pipeline's directory are copied")
                (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src.parent / rel, workdir / rel)
    out = workdir / "esteira.toml"
    text = f"# Written by scripts/bench_compare.py from {src}: {'; '.join(changes)}.\n" + to_toml(doc)
    if tomllib.loads(text) != doc:
        raise SystemExit("internal error: the scratch pipeline file does not read back as written")
    out.write_text(text)
    return out, changes


# ── measuring a process ─────────────────────────────────────────────────────────────────────

def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in os.listdir(f"/proc/{p}/task") if os.path.isdir(f"/proc/{p}/task") else []:
            for c in _read(f"/proc/{p}/task/{task}/children").split():
                out.append(int(c))
                todo.append(int(c))
    return out


def _proc_sample(pid: int):
    """(cpu seconds, VmRSS MB, VmHWM MB) of pid, plus the RSS of its descendants."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    rss = hwm = 0.0
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    for c in _descendants(pid):
        for line in _read(f"/proc/{c}/status").splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) / 1024
    return cpu, rss, hwm


def loadavg() -> str:
    return " ".join(_read("/proc/loadavg").split()[:3])


def measure(cmd: list[str], sample_ms: float, marker: Path | None = None, **kw) -> dict:
    """Runs cmd, sampling it; returns exit code, wall, cpu, peak RSS, samples, stdout, stderr and
    the time (from the start) at which `marker` first existed."""
    stop = threading.Event()
    samples, marker_t = [], [None]
    load0 = loadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def sampler():
        while not stop.is_set():
            s = _proc_sample(proc.pid)
            t = time.perf_counter() - t0
            if s:
                samples.append((t, *s))
            if marker is not None and marker_t[0] is None and marker.exists():
                marker_t[0] = t
            stop.wait(sample_ms / 1000)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    out_chunks, err_chunks = [], []
    readers = [threading.Thread(target=lambda s=s, b=b: b.append(s.read()), daemon=True)
               for s, b in ((proc.stdout, out_chunks), (proc.stderr, err_chunks))]
    for r in readers:
        r.start()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    th.join()
    for r in readers:
        r.join()
    peak_sampled = max((s[2] for s in samples), default=0.0)
    return {"cmd": cmd, "rc": proc.returncode, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "peak_rss_mb": max(ru.ru_maxrss / 1024, peak_sampled),
            "samples": samples, "marker_s": marker_t[0], "load_before": load0, "load_after": loadavg(),
            "stdout": b"".join(out_chunks).decode(errors="replace"),
            "stderr": b"".join(err_chunks).decode(errors="replace")}


# ── esteira's stages from the samples ───────────────────────────────────────────────────────

def attribute(samples: list, windows: dict, peak_total: float) -> dict:
    """Stage -> (cpu_s, peak_rss_mb) from process samples and stage windows (absolute seconds)."""
    cpu = {s: 0.0 for s in windows}
    cpu["(outside stages)"] = 0.0
    for (t_a, c_a, *_), (t_b, c_b, *_) in zip(samples, samples[1:]):
        if t_b <= t_a or c_b <= c_a:
            continue
        rate = (c_b - c_a) / (t_b - t_a)
        cuts = sorted({t_a, t_b, *(x for w in windows.values() for x in w if t_a < x < t_b)})
        for u, v in zip(cuts, cuts[1:]):
            mid = (u + v) / 2
            active = [s for s, (a, b) in windows.items() if a <= mid <= b]
            for s in active or ["(outside stages)"]:
                cpu[s] += rate * (v - u) / max(1, len(active))
    peak = {}
    for s, (a, b) in windows.items():
        before = [x for x in samples if x[0] <= a]
        after = [x for x in samples if x[0] >= b]
        inside = [x for x in samples if a <= x[0] <= b] + before[-1:] + after[:1]
        p = max((x[2] for x in inside), default=0.0)
        hwm_before = before[-1][3] if before else 0.0
        hwm_after = after[0][3] if after else peak_total
        if hwm_after > hwm_before:
            p = max(p, hwm_after)
        peak[s] = p
    return {s: (cpu.get(s, 0.0), peak.get(s)) for s in cpu}


def union_length(intervals) -> float:
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def esteira_cold(esteira: str, pipeline: Path, store: Path, jobs: int, sample_ms: float) -> dict:
    shutil.rmtree(store, ignore_errors=True)
    m = measure([esteira, "-q", "-c", str(pipeline), "--store", str(store), "run", "-j", str(jobs)],
                sample_ms, marker=store / "current-run")
    show = subprocess.run([esteira, "-c", str(pipeline), "--store", str(store), "runs", "show", "latest", "--json"],
                          capture_output=True, text=True)
    if show.returncode != 0:
        raise SystemExit(f"esteira runs show latest failed ({show.returncode}): {show.stderr.strip()}\n"
                         f"the run said: {m['stderr'][-2000:]}")
    record = json.loads(show.stdout)
    # The run's t0 is taken just after `current-run` is written; no sample saw it when the
    # process was too quick: then stage times count from the process start.
    t_run = m["marker_s"] or 0.0
    stages, windows = {}, {}
    for name in record["order"]:
        st = record["stages"].get(name)
        if st is None:
            continue
        stages[name] = {"kind": st["kind"], "status": st["status"], "wall_s": (st["end_ms"] - st["start_ms"]) / 1e3,
                        "start_s": t_run + st["start_ms"] / 1e3, "end_s": t_run + st["end_ms"] / 1e3,
                        "error": st.get("error"),
                        "metrics": {k: v for k, v in st.get("metrics", {}).items() if k in KEPT_METRICS}}
        if st["status"] in ("ran", "failed", "cached"):
            windows[name] = (stages[name]["start_s"], stages[name]["end_s"])
    att = attribute(m["samples"], windows, m["peak_rss_mb"])
    for name, (c, p) in att.items():
        if name in stages:
            stages[name].update(cpu_s=c, peak_rss_mb=p)
    groups = {}
    for g in GROUPS + sorted({f"other: {s['kind']}" for s in stages.values() if s["kind"] not in GROUP_OF_KIND}):
        members = [n for n, s in stages.items() if GROUP_OF_KIND.get(s["kind"], f"other: {s['kind']}") == g
                   and n in windows]
        if members:
            groups[g] = {"stages": members, "wall_s": union_length(windows[n] for n in members),
                         "cpu_s": sum(stages[n]["cpu_s"] for n in members),
                         "peak_rss_mb": max(stages[n]["peak_rss_mb"] or 0 for n in members)}
    m_out = {k: v for k, v in m.items() if k not in ("samples", "stdout")}
    m_out["samples"] = len(m["samples"])
    m_out["outside_stages"] = {"wall_s": m["wall_s"] - union_length(windows.values()),
                               "cpu_s": att["(outside stages)"][0]}
    failed = [n for n, s in stages.items() if s["status"] == "failed"]
    skipped = [n for n, s in stages.items() if s["status"] == "skipped"]
    return {"process": m_out, "run_id": record["id"], "run_status": record["status"], "stages": stages,
            "groups": groups, "failed": failed, "skipped": skipped, "stage_time_origin": "run start" if m["marker_s"]
            else "process start (the run marker was not sampled)"}


def esteira_noop(esteira: str, pipeline: Path, store: Path, jobs: int, runs: int) -> dict:
    cmd = [esteira, "-q", "-c", str(pipeline), "--store", str(store), "run", "-j", str(jobs)]
    load0 = loadavg()
    hf = shutil.which("hyperfine")
    if hf:
        export = store.parent / "noop-hyperfine.json"
        r = subprocess.run([hf, "-N", "--style", "none", "--warmup", "2", "--runs", str(runs),
                            "--export-json", str(export), " ".join(map(shlex_quote, cmd))],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"hyperfine failed: {r.stderr.strip()}")
        res = json.loads(export.read_text())["results"][0]
        times, tool = res["times"], f"hyperfine {subprocess.run([hf, '--version'], capture_output=True, text=True).stdout.split()[-1]}"
        user, system = res.get("user"), res.get("system")
    else:
        for _ in range(2):
            subprocess.run(cmd, capture_output=True)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        tool, user, system = "python time.perf_counter", None, None
    show = subprocess.run([esteira, "-c", str(pipeline), "--store", str(store), "runs", "show", "latest", "--json"],
                          capture_output=True, text=True, check=True)
    statuses = sorted({s["status"] for s in json.loads(show.stdout)["stages"].values()})
    return {"tool": tool, "runs": len(times), "median_s": statistics.median(times), "min_s": min(times),
            "max_s": max(times), "mean_s": statistics.fmean(times), "user_mean_s": user, "system_mean_s": system,
            "last_run_statuses": statuses, "load_before": load0, "load_after": loadavg()}


def median_of(results: list):
    """One result of the same shape: numbers replaced by their median over `results`, anything
    else taken from the first."""
    first = results[0]
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in results if isinstance(r, dict) and k in r]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        vals = [r for r in results if isinstance(r, (int, float)) and not isinstance(r, bool)]
        return statistics.median(vals) if vals else first
    return first


def spread(results: list, side: str) -> dict:
    """Per repeat: the whole process's and each group's wall, CPU and peak RSS."""
    return [{"process": {k: r["process"][k] for k in ("wall_s", "cpu_s", "peak_rss_mb", "load_before", "load_after")},
             "groups": {g: {k: v[k] for k in ("wall_s", "cpu_s", "peak_rss_mb")} for g, v in r.get("groups", {}).items()}}
            for r in results]


def shlex_quote(s: str) -> str:
    import shlex
    return shlex.quote(s)


def pandas_run(pipeline: Path, data: Path, sample_ms: float, n_jobs: int, bootstrap: int) -> dict:
    m = measure([sys.executable, str(REPO / "scripts" / "pandas_baseline.py"), "-c", str(pipeline), "--data", str(data),
                 "--n-jobs", str(n_jobs), "--bootstrap", str(bootstrap)], sample_ms)
    out = {k: v for k, v in m.items() if k not in ("samples", "stdout", "marker_s")}
    out["samples"] = len(m["samples"])
    if m["rc"] != 0:
        return {"process": out, "error": m["stderr"].strip()[-3000:]}
    report = json.loads(m["stdout"].strip().splitlines()[-1])
    # The script's phase resets of the high-water mark lower ru_maxrss: the process's peak is
    # the highest of its phases' (and of the sampled RSS, which includes any worker processes).
    out["peak_rss_mb"] = max(report["total_in_process"]["peak_rss_mb"], max((s[2] for s in m["samples"]), default=0))
    groups = {}
    for g, phases in PANDAS_PHASES.items():
        ph = [report["phases"][p] for p in phases]
        groups[g] = {"phases": phases, "wall_s": sum(p["wall_s"] for p in ph), "cpu_s": sum(p["cpu_s"] for p in ph),
                     "peak_rss_mb": max(p["peak_rss_mb"] for p in ph)}
    return {"process": out, "report": report, "groups": groups}


# ── output ──────────────────────────────────────────────────────────────────────────────────

def fmt_s(v):
    return "—" if v is None else f"{v:.3f}" if v < 10 else f"{v:.1f}"


def fmt_mb(v):
    return "—" if v is None else f"{v:.0f}"


def fmt_ratio(a, b):
    if a is None or b is None or b <= 0:
        return "—"
    r = a / b
    return f"{r:.2f}" if r < 10 else f"{r:.0f}"


def render(rows: list[list[str]], header: list[str], markdown: bool) -> str:
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
                         + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


GROUP_HEADER = ["stage group", "esteira wall s", "CPU s", "peak RSS MB", "pandas wall s", "CPU s", "peak RSS MB",
                "wall ratio", "CPU ratio", "RSS ratio"]


def group_rows(res: dict, prefix: list[str] | None = None) -> list[list[str]]:
    e, p = res.get("esteira"), res.get("pandas")
    eg = e["groups"] if e else {}
    pg = p.get("groups", {}) if p else {}
    rows = []
    for g in list(GROUPS) + [g for g in eg if g not in GROUPS]:
        a, b = eg.get(g), pg.get(g)
        if not a and not b:
            continue
        name = g + (" (esteira only)" if g == "checks" else "")
        rows.append((prefix or []) + [name, fmt_s(a and a["wall_s"]), fmt_s(a and a["cpu_s"]), fmt_mb(a and a["peak_rss_mb"]),
                                      fmt_s(b and b["wall_s"]), fmt_s(b and b["cpu_s"]), fmt_mb(b and b["peak_rss_mb"]),
                                      fmt_ratio(a and a["wall_s"], b and b["wall_s"]),
                                      fmt_ratio(a and a["cpu_s"], b and b["cpu_s"]),
                                      fmt_ratio(a and a["peak_rss_mb"], b and b["peak_rss_mb"])])
    ep, pp = e and e["process"], p and p["process"]
    # A baseline that failed has timed only its crash: its whole-process figures mean nothing.
    if p and "error" in p:
        pp = None
    ratio = (lambda a, b: "— (esteira failed)") if e and e["failed"] else fmt_ratio
    rows.append((prefix or []) + ["whole process", fmt_s(ep and ep["wall_s"]), fmt_s(ep and ep["cpu_s"]),
                                  fmt_mb(ep and ep["peak_rss_mb"]), fmt_s(pp and pp["wall_s"]), fmt_s(pp and pp["cpu_s"]),
                                  fmt_mb(pp and pp["peak_rss_mb"]), ratio(ep and ep["wall_s"], pp and pp["wall_s"]),
                                  ratio(ep and ep["cpu_s"], pp and pp["cpu_s"]),
                                  ratio(ep and ep["peak_rss_mb"], pp and pp["peak_rss_mb"])])
    return rows


def print_result(res: dict, markdown: bool):
    s = res["scale"]
    print(f"\n== scale {s:g} (seed {res['seed']}): {res['data_mb']:.0f} MB of CSV in {res['data']}")
    e, p = res.get("esteira"), res.get("pandas")
    if e:
        ep = e["process"]
        print(f"{res['esteira_version']} ({res['esteira_binary']}), cold, fresh store, -j {res['jobs']}: "
              f"run {e['run_status']}, exit {ep['rc']}; load average {ep['load_before']} -> {ep['load_after']}")
        if e["failed"]:
            err = (e["stages"][e["failed"][0]].get("error") or "").strip()
            print(f"!! esteira's run FAILED at {', '.join(e['failed'])}; not run: {', '.join(e['skipped']) or 'none'}. "
                  f"Its figures cover only the stages before.\n!! {err[:600]}")
            if any(e["stages"][n]["kind"] == "check" for n in e["failed"]):
                print("!! A check stage failed: rerun with --checks warn to time the whole DAG "
                      "(check severities set to warn in the scratch pipeline only).")
        met = {k: v for st in e["stages"].values() for k, v in st.get("metrics", {}).items() if k != "rows_out"}
        merged = [st["metrics"]["rows_out"] for st in e["stages"].values()
                  if st["kind"] == "merge" and "rows_out" in st.get("metrics", {})]
        if met or merged:
            line = f"esteira rows: merged {merged[0] if merged else '—'}, train {met.get('train.rows', '—')}, test {met.get('test.rows', '—')}"
            if "roc_auc" in met:
                line += (f"; test ROC AUC {met['roc_auc']:.4f}, balanced accuracy {met['balanced_accuracy']:.4f}")
            print(line)
    if p:
        pp = p["process"]
        if "error" in p:
            print(f"!! the pandas baseline FAILED (exit {pp['rc']}):\n{p['error']}")
        else:
            r = p["report"]
            print(f"pandas {r['versions']['pandas']} + scikit-learn {r['versions']['sklearn']} "
                  f"(GridSearchCV n_jobs={r['n_jobs']}, bootstrap {r['bootstrap'] or 'none'}): exit {pp['rc']}; "
                  f"load average {pp['load_before']} -> {pp['load_after']}; start-up (imports) "
                  f"{r['phases']['startup']['wall_s']:.2f} s; rows {r['rows']}; test ROC AUC "
                  f"{r['metrics']['roc_auc']:.4f}, balanced accuracy {r['metrics']['balanced_accuracy']:.4f}")
    reps = [r for side in (e, p) if side for r in [side.get("repeats", [])] if len(r) > 1]
    if reps:
        walls = lambda side: ", ".join(f"{r['process']['wall_s']:.2f}" for r in side["repeats"])  # noqa: E731
        print(f"medians of {len(reps[0])} cold runs per side; whole-process walls (s): esteira {walls(e) if e else '—'}; "
              f"pandas {walls(p) if p else '—'}")
    print()
    print(render(group_rows(res), GROUP_HEADER, markdown))
    if e:
        rows = [[n, st["kind"], st["status"], fmt_s(st["wall_s"]), fmt_s(st.get("cpu_s")), fmt_mb(st.get("peak_rss_mb"))]
                for n, st in e["stages"].items()]
        o = e["process"]["outside_stages"]
        rows.append(["(outside stages)", "", "", fmt_s(o["wall_s"]), fmt_s(o["cpu_s"]), ""])
        print(f"\nesteira per stage (wall from the run record; CPU ≈ and peak RSS ≈ from {e['process']['samples']} "
              f"samples of /proc, stage times from the {e['stage_time_origin']}):")
        print(render(rows, ["stage", "kind", "status", "wall s", "CPU s ≈", "peak RSS MB ≈"], markdown))
    n = res.get("noop")
    if n:
        print(f"\nno-op run (fully cached, {n['runs']} runs, {n['tool']}): median {n['median_s'] * 1e3:.1f} ms "
              f"(min {n['min_s'] * 1e3:.1f}, max {n['max_s'] * 1e3:.1f}); last run's stages: "
              f"{', '.join(n['last_run_statuses'])}; load average {n['load_before']} -> {n['load_after']}")
    if e:
        eg = e["groups"]
        ev = res.get("evaluate_params", {})
        print(f"\nnotes: ratio = esteira / pandas. checks: the pandas baseline has no Great Expectations suites. "
              f"evaluate: esteira includes {ev.get('bootstrap', 'its default')} bootstrap resamples and "
              f"{ev.get('permutation_repeats', 'its default')} permutation repeats, charts and the report; pandas "
              f"{'includes ' + str(p['report']['bootstrap']) + ' bootstrap resamples' if p and 'report' in p and p['report']['bootstrap'] else 'has no bootstrap intervals'}. "
              f"train: esteira also fits quartile bins and LOF-by-CV ({res.get('train_note', '')}). "
              f"The machine is shared; CPU time is the steadier figure.")
        if not eg:
            print("notes: esteira ran no stage")


def synth(esteira: str, scale: float, seed: int, data: Path, regen: bool) -> dict:
    stamp = data / ".bench-synth.json"
    want = {"scale": scale, "seed": seed}
    names = ["discentes.csv", "dados-socio-economicos-discentes-2020.1.csv", "cursos-de-graduacao.csv",
             "matricula-componente-20205.csv"]
    if not regen and stamp.exists() and json.loads(stamp.read_text()).get("params") == want \
            and all((data / n).exists() for n in names):
        info = json.loads(stamp.read_text())
        info["cached"] = True
        return info
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    t0 = time.perf_counter()
    r = subprocess.run([esteira, "-q", "synth", "--scale", str(scale), "--seed", str(seed), "--out", str(data)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"esteira synth failed ({r.returncode}): {r.stderr.strip()}")
    info = {"params": want, "seconds": time.perf_counter() - t0, "esteira": esteira,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    stamp.write_text(json.dumps(info))
    info["cached"] = False
    return info


def git_state() -> str:
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return rev + (f" + uncommitted changes in {len(dirty.splitlines())} tracked files" if dirty else "")


def other_load() -> list[str]:
    """The busiest other processes right now (what else shares the machine)."""
    r = subprocess.run(["ps", "-eo", "pcpu,rss,comm", "--sort=-pcpu", "--no-headers"], capture_output=True, text=True)
    return [" ".join(line.split()) for line in r.stdout.splitlines()[:6]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("scale", nargs="+", type=float, help="data scale(s) for esteira synth (1 ≈ the real data)")
    ap.add_argument("--seed", type=int, default=2020, help="synth seed (default 2020, the sample's)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/esteira-bench"), help="work directory (default /tmp/esteira-bench)")
    ap.add_argument("--esteira", default=str(REPO / "target" / "release" / "esteira"),
                    help="the esteira binary (default target/release/esteira: cargo build --release -p esteira)")
    ap.add_argument("-c", "--pipeline", type=Path, default=REPO / "esteira.toml", help="the pipeline file to copy")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="esteira run -j (default 2)")
    ap.add_argument("--checks", choices=["error", "warn"], default="error",
                    help="warn: set every check stage's severity to warn in the scratch pipeline, so a failing "
                         "suite does not stop the DAG (the default keeps the pipeline's severities)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="cold runs of each side; the tables show each figure's median over them (default 1)")
    ap.add_argument("--noop-runs", type=int, default=20, help="no-op runs timed (default 20; 0 skips)")
    ap.add_argument("--baseline-n-jobs", type=int, default=1, help="the baseline's GridSearchCV n_jobs (default 1)")
    ap.add_argument("--baseline-bootstrap", type=int, default=0, help="the baseline's bootstrap resamples (default 0)")
    ap.add_argument("--no-esteira", action="store_true", help="run only the baseline")
    ap.add_argument("--no-pandas", action="store_true", help="run only esteira")
    ap.add_argument("--regen", action="store_true", help="generate the data again even when cached")
    ap.add_argument("--sample-ms", type=float, default=20, help="/proc sampling period (default 20 ms)")
    ap.add_argument("--markdown", action="store_true", help="tables as Markdown")
    args = ap.parse_args()

    esteira = shutil.which(args.esteira) or args.esteira
    if not Path(esteira).exists():
        raise SystemExit(f"no esteira binary at {esteira}: cargo build --release -p esteira, or --esteira PATH")
    version = subprocess.run([esteira, "--version"], capture_output=True, text=True).stdout.strip()
    results = []
    print(f"esteira: {esteira} ({version}), repository at {git_state()}; {os.cpu_count()} CPUs; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print("busiest processes at the start (%CPU RSS-KB command): " + "; ".join(other_load()))
    doc = tomllib.loads(args.pipeline.read_text())
    train_p = doc["stages"].get("train", {}).get("params", {})
    train_note = f"lof.enabled = {train_p.get('lof', {}).get('enabled', 'default')}, numeric_bins = {train_p.get('numeric_bins', 'default')}"
    for scale in args.scale:
        label = f"{scale:g}"
        workdir = args.work / f"scale-{label}-seed-{args.seed}"
        data = workdir / "data"
        workdir.mkdir(parents=True, exist_ok=True)
        gen = synth(esteira, scale, args.seed, data, args.regen)
        how = f"cached from {gen['at']}" if gen["cached"] else f"generated in {gen['seconds']:.2f} s"
        print(f"\nscale {label}: data {how}", flush=True)
        pipeline, changes = write_pipeline(args.pipeline, workdir, data, args.checks)
        res = {"scale": scale, "seed": args.seed, "data": str(data), "pipeline": str(pipeline), "changes": changes,
               "data_mb": sum(f.stat().st_size for f in data.glob("*.csv")) / 2**20, "jobs": args.jobs,
               "esteira_binary": esteira, "esteira_version": version, "git": git_state(), "synth": gen,
               "evaluate_params": doc["stages"].get("evaluate", {}).get("params", {}), "train_note": train_note,
               "other_processes": other_load(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if not args.no_esteira:
            runs = []
            for i in range(args.repeat):
                print(f"scale {label}: esteira cold run {i + 1}/{args.repeat} …", flush=True)
                runs.append(esteira_cold(esteira, pipeline, workdir / "store", args.jobs, args.sample_ms))
            res["esteira"] = median_of(runs)
            res["esteira"]["repeats"] = spread(runs, "esteira")
            if args.noop_runs and not res["esteira"]["failed"]:
                print(f"scale {label}: {args.noop_runs} no-op runs …", flush=True)
                res["noop"] = esteira_noop(esteira, pipeline, workdir / "store", args.jobs, args.noop_runs)
        if not args.no_pandas:
            runs = []
            for i in range(args.repeat):
                print(f"scale {label}: pandas baseline {i + 1}/{args.repeat} …", flush=True)
                runs.append(pandas_run(pipeline, data, args.sample_ms, args.baseline_n_jobs, args.baseline_bootstrap))
                if "error" in runs[-1]:
                    break
            res["pandas"] = runs[-1] if "error" in runs[-1] else median_of(runs)
            res["pandas"]["repeats"] = spread(runs, "pandas")
        (workdir / "result.json").write_text(json.dumps(res, indent=1))
        print_result(res, args.markdown)
        results.append(res)
    if len(results) > 1:
        (args.work / "results.json").write_text(json.dumps(results, indent=1))
        print("\n== all scales")
        rows = [r for res in results for r in group_rows(res, [f"{res['scale']:g}"])]
        print(render(rows, ["scale"] + GROUP_HEADER, args.markdown))
        noop = [[f"{r['scale']:g}", f"{r['noop']['median_s'] * 1e3:.1f}", f"{r['noop']['min_s'] * 1e3:.1f}",
                 f"{r['noop']['max_s'] * 1e3:.1f}"] for r in results if r.get("noop")]
        if noop:
            print("\nno-op run, ms:")
            print(render(noop, ["scale", "median", "min", "max"], args.markdown))
    failed = any(r.get("esteira", {}).get("failed") or "error" in r.get("pandas", {}) for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
