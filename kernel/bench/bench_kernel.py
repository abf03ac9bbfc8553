#!/usr/bin/env python3
"""Benchmark distlab-kernel against stock evcxr_jupyter 0.22.0, side by side.

Not run in CI. Usage (from the repo root, after ./dev test or ./dev up):

    .venv/bin/python kernel/bench/bench_kernel.py [--stock-root /work/stock-evcxr] [--rounds 3]

Installs stock evcxr_jupyter into --stock-root with cargo install if it is
missing (~10 min), writes a temporary kernelspec for it, and measures for
each kernel, alternating the kernels each round:

* start: kernel launch to the first result of a plain Rust cell, and (in
  another fresh kernel) of a cell using distlab (stock needs
  `:dep distlab = { path = ... }` first; ours loads it by itself),
* p50 of 20 simple cells,
* one struct+impl cell (the session's first), and the p50 of 5 more,
* resident memory of the kernel's process tree after those cells.

Ours is measured cold (warm spares off, DISTLAB_KERNEL_SPARE=0), and then
as Jupyter mostly starts it: served by a warm spare (kernel/src/spare.rs)
that the previous kernel left. For those starts it reports launch to first
result, the simple-cell p50 right after (while the next spare warms up
beside it), and the memory a waiting spare holds.
"""

import argparse
import contextlib
import fcntl
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "exercises"

STRUCT_CELL = """
#[derive(Debug, Clone)]
struct Node { id: u32, peers: Vec<u32> }
impl Node {
    fn new(id: u32) -> Self { Node { id, peers: Vec::new() } }
    fn connect(&mut self, other: u32) { self.peers.push(other) }
}
let mut n = Node::new(1); n.connect(2); n.peers.len()
"""


def ensure_stock(root: pathlib.Path) -> pathlib.Path:
    exe = root / "bin" / "evcxr_jupyter"
    if not exe.exists():
        print(f"installing stock evcxr_jupyter 0.22.0 into {root} (takes ~10 min) ...", flush=True)
        subprocess.run(
            ["cargo", "install", "evcxr_jupyter", "--version", "0.22.0", "--locked", "--root", str(root)],
            check=True,
        )
    return exe


def stock_spec_dir(exe: pathlib.Path, tmp: pathlib.Path) -> pathlib.Path:
    d = tmp / "kernels" / "stock_evcxr"
    d.mkdir(parents=True)
    (d / "kernel.json").write_text(json.dumps({
        "argv": [str(exe), "--control_file", "{connection_file}"],
        "display_name": "Rust (stock evcxr)", "language": "rust", "interrupt_mode": "message",
    }))
    return d


def rss_tree_mib(pid: int) -> float:
    """Sum of VmRSS over pid and all its descendants."""
    children = {}
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(p.name))
        except (OSError, ValueError, IndexError):
            pass
    total, todo = 0, [pid]
    while todo:
        q = todo.pop()
        todo.extend(children.get(q, []))
        try:
            for line in pathlib.Path(f"/proc/{q}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def run_cell(kc, code, timeout=300):
    t = time.perf_counter()
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: None)
    dt = time.perf_counter() - t
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed: {code!r}: {reply['content']}")
    return dt


DISTLAB_CELL = "let course_node: distlab::NodeId = 3; course_node"


COLD = {"DISTLAB_KERNEL_SPARE": "0"}


@contextlib.contextmanager
def fresh_kernel(kernel_name: str, env=None):
    """A launched, ready kernel: (manager, client, launch time), shut down after."""
    km = KernelManager(kernel_name=kernel_name)
    t0 = time.perf_counter()
    km.start_kernel(env=dict(os.environ, **(env or COLD)))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=300)
        yield km, kc, t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def start_to_first_result(kernel_name: str, cells, env=None):
    """A fresh kernel: launch to the result of the last of `cells`."""
    with fresh_kernel(kernel_name, env) as (_, kc, t0):
        for cell in cells:
            run_cell(kc, cell)
        return time.perf_counter() - t0


def measure(kernel_name: str, dep_cell: str):
    """`dep_cell` loads distlab (stock evcxr needs it; ours loads it itself)."""
    course_cells = [c for c in (dep_cell, DISTLAB_CELL) if c]
    start_course = start_to_first_result(kernel_name, course_cells)
    with fresh_kernel(kernel_name) as (km, kc, t0):
        run_cell(kc, "let first = 1 + 1; first")
        start = time.perf_counter() - t0
        if dep_cell:
            run_cell(kc, dep_cell)
        simple = [run_cell(kc, f"let x{i} = {i} * 2; x{i} + 1") for i in range(20)]
        struct = run_cell(kc, STRUCT_CELL)
        # The first struct cell costs more than later ones: report both.
        more = [run_cell(kc, STRUCT_CELL.replace("Node", f"Node{i}")) for i in range(5)]
        time.sleep(1)
        rss = rss_tree_mib(km.provisioner.process.pid)
    return {
        "start": start,
        "start_course": start_course,
        "simple_p50": statistics.median(simple),
        "struct": struct,
        "struct_p50": statistics.median(more),
        "rss": rss,
    }


def spare_state(runtime: pathlib.Path):
    """(state, pid) of the spare holding a lock under `runtime`, or (None, None)."""
    for lock in runtime.glob("distlab-kernel-spares-*/*.lock"):
        with open(lock) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f, fcntl.LOCK_UN)
            except BlockingIOError:
                words = lock.read_text().split()
                if len(words) == 2:
                    return words[0], int(words[1])
    return None, None


def wait_for_spare(runtime: pathlib.Path) -> int:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state, pid = spare_state(runtime)
        if state == "ready":
            return pid
        time.sleep(0.2)
    raise RuntimeError("no spare became ready")


def measure_warm(rounds: int):
    """Starts served by a warm spare, after a cold kernel left the first."""
    runtime = pathlib.Path(tempfile.mkdtemp(prefix="dlbench-"))
    env = {"DISTLAB_KERNEL_SPARE": "1", "XDG_RUNTIME_DIR": str(runtime)}
    with fresh_kernel("distlab", env) as (_, kc, _t0):
        run_cell(kc, "1 + 1")
        spare_rss = rss_tree_mib(wait_for_spare(runtime))
    out = {"warm_start": [], "warm_start_course": [], "warm_simple_p50": [], "warm_struct": []}
    for _ in range(rounds):
        wait_for_spare(runtime)
        with fresh_kernel("distlab", env) as (_, kc, t0):
            run_cell(kc, "let first = 1 + 1; first")
            out["warm_start"].append(time.perf_counter() - t0)
            simple = [run_cell(kc, f"let x{i} = {i} * 2; x{i} + 1") for i in range(20)]
            out["warm_simple_p50"].append(statistics.median(simple))
            out["warm_struct"].append(run_cell(kc, STRUCT_CELL))
        wait_for_spare(runtime)
        out["warm_start_course"].append(start_to_first_result("distlab", [DISTLAB_CELL], env))
    for k, v in out.items():
        print(f"{k}: " + ", ".join(f"{x:.2f}" for x in v), flush=True)
    shutil.rmtree(runtime, ignore_errors=True)
    return {k: statistics.median(v) for k, v in out.items()} | {"spare_rss": spare_rss}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stock-root", default="/work/stock-evcxr")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warm-only", action="store_true", help="only the starts served by a warm spare")
    args = ap.parse_args()

    ksm = KernelSpecManager()
    if "distlab" not in ksm.find_kernel_specs():
        sys.exit("the distlab kernel is not installed: run ./dev test or ./dev up first")
    if not args.warm_only:
        compare_with_stock(args)
    print_warm(measure_warm(args.rounds))


def compare_with_stock(args):
    exe = ensure_stock(pathlib.Path(args.stock_root))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-kernels-"))
    stock_spec_dir(exe, tmp)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(tmp), os.environ.get("JUPYTER_PATH")]))

    dep = f':dep distlab = {{ path = "{EXERCISES}" }}'
    results = {"stock evcxr_jupyter": [], "distlab-kernel": []}
    for r in range(args.rounds):
        for name, kernel, first in (("stock evcxr_jupyter", "stock_evcxr", dep), ("distlab-kernel", "distlab", "")):
            m = measure(kernel, first)
            print(f"round {r + 1} {name}: " + ", ".join(f"{k}={v:.2f}" for k, v in m.items()), flush=True)
            results[name].append(m)
    shutil.rmtree(tmp, ignore_errors=True)

    med = {n: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for n, rs in results.items()}
    s, d = med["stock evcxr_jupyter"], med["distlab-kernel"]
    rows = [
        ("start to first result, plain Rust cell (s)", "start", 0.5),
        ("start to first result, cell using distlab (s)", "start_course", 0.5),
        ("simple cell p50 (s)", "simple_p50", 1.0),
        ("struct+impl cell (s)", "struct", 1.0),
        ("5 more struct+impl cells, p50 (s)", "struct_p50", 1.0),
        ("RSS of kernel tree (MiB)", "rss", 1.0),
    ]
    print()
    print(f"| metric | stock evcxr_jupyter | distlab-kernel | ratio | goal |")
    print(f"|---|---:|---:|---:|---:|")
    for label, key, goal in rows:
        ratio = d[key] / s[key] if s[key] else float("nan")
        mark = "ok" if ratio <= goal else "MISSED"
        print(f"| {label} | {s[key]:.2f} | {d[key]:.2f} | {ratio:.2f}x | <= {goal}x {mark} |")
    print(f"\n(medians of {args.rounds} rounds, kernels alternated; ours cold, no spare)")


def print_warm(w):
    print()
    print("| distlab-kernel served by a warm spare | median | goal |")
    print("|---|---:|---:|")
    for label, key, goal in [
        ("start to first result, plain Rust cell (s)", "warm_start", 5.0),
        ("start to first result, cell using distlab (s)", "warm_start_course", 5.0),
        ("simple cell p50 right after, next spare warming (s)", "warm_simple_p50", 0.3),
        ("first struct+impl cell (s)", "warm_struct", None),
    ]:
        mark = "" if goal is None else (f"<= {goal} " + ("ok" if w[key] <= goal else "MISSED"))
        print(f"| {label} | {w[key]:.2f} | {mark} |")
    print(f"| RSS of a waiting spare's process tree (MiB) | {w['spare_rss']:.0f} | |")


if __name__ == "__main__":
    main()
