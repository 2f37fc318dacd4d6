"""Run the benchmarks a–e and write ``results.json`` and ``results.md``.

    python benchmarks/run_all.py [--quick] [--out benchmarks/results] [--only kernel throughput batched memory identity pairs]
    python benchmarks/run_all.py --render benchmarks/results/results.json   # re-render the Markdown only

a ``kernel``: exact kernel matrix vs the 1000-neuron Monte Carlo estimate (N1 = N2 = 2000, d = 1000);
b ``throughput``: training GFLOP/s at d = 1000, N = 2000, m = 1000 against the measured sgemm peak;
c ``batched``: 16 networks batched vs sequential at the shifted-gauss-a size and two ci-profile sizes;
d ``memory``: peak RSS of the kernel and training cases, one subprocess per case;
``identity``: run_batch(config, seeds) against run_experiment per seed (bit identity);
e ``pairs``: training time per network pair at the check-suite sizes, ``training.train`` against a
baseline loop, and the two loops' agreement.

The check-suite wall time is a separate script (minutes): ``python benchmarks/checks_wall.py``.
Results are rewritten after every section, so an interrupted run keeps what it measured; with
``--only``, an existing results.json of the same mode keeps its other sections (each section records
``measured_at``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import batched, kernel, memory, throughput, train_pairs
from common import log, machine_info, pinned_threads, section, write_json

SECTIONS = ("kernel", "throughput", "batched", "memory", "identity", "pairs")
IDENTITY_PRESET = "shifted-gauss-a-small"
IDENTITY_SEEDS = [0, 1, 2]


def identity_section(quick: bool) -> dict:
    from perturbation_learning.config import get_preset

    config = get_preset(IDENTITY_PRESET)
    if quick:
        config = config.replace(epochs_f=30, epochs_g=30)
    with pinned_threads(1):
        res = batched.run_batch_vs_single(config, IDENTITY_SEEDS)
    res["preset"] = IDENTITY_PRESET
    res["threads"] = 1
    return res


def identity_markdown(res: dict) -> str:
    setting = "d={d}, N={n_train}, m={width}, {epochs_f}+{epochs_g} steps".format(**res["config"])
    outcome = f"max |difference| over all result metrics = {res['max_abs_diff']:.3g}"
    caption = (f"preset {res['preset']} ({setting}), seeds {res['seeds']}, {res['threads']} thread: {outcome}; "
               f"bit-identical: **{res['bit_identical']}**.")
    return section("### run_batch vs run_experiment (bit identity)", caption)


def run_section(name: str, quick: bool, threads: list[int] | None) -> dict:
    if name == "kernel":
        return kernel.run(repeats=2 if quick else 5, threads=threads or ([1] if quick else None))
    if name == "throughput":
        return throughput.run(steps=3 if quick else 10, repeats=2 if quick else 4,
                              threads=threads or ([1] if quick else None))
    if name == "batched":
        return batched.run(quick=quick, threads=threads)
    if name == "memory":
        return memory.run(quick=quick)
    if name == "identity":
        return identity_section(quick)
    if name == "pairs":
        return train_pairs.run(quick=quick)
    raise ValueError(f"section == {name!r}, must be one of {SECTIONS}")


MARKDOWN = {"kernel": kernel.markdown, "throughput": throughput.markdown, "batched": batched.markdown,
            "memory": memory.markdown, "identity": identity_markdown, "pairs": train_pairs.markdown}


def render(payload: dict) -> str:
    m = payload["machine"]
    caches = ", ".join(f"{k} {v}" for k, v in m.get("caches", {}).items())
    lines = ["# Benchmarks", "",
             f"- machine: {m['cpu_model']}, {m['cores']} cores{'; ' + caches if caches else ''}; "
             f"load average at start {m['load_average_1_5_15']}, "
             f"at end {payload.get('load_average_end')}",
             f"- date: {m['date']}; python {m['python']}, torch {m['torch']}, numpy {m['numpy']}",
             f"- mode: {'quick' if payload['quick'] else 'full'}; torch threads are pinned per measurement "
             "(column `threads`); comparisons are interleaved in one process (A, B, A, B, …), medians reported",
             f"- wall time of this run: {payload.get('wall_s', float('nan')):.0f} s"]
    other = payload.get("machine_of_other_sections")
    if other:
        dates = ", ".join(f"{k} {v.get('measured_at', other['date'])}" for k, v in payload["sections"].items())
        lines.append(f"- sections come from more than one run (`--only`): {dates}; the earlier run started "
                     f"{other['date']} at load average {other['load_average_1_5_15']}")
    lines.append("")
    for name, res in payload["sections"].items():
        lines.append(MARKDOWN[name](res) if "error" not in res else f"### {name}\n\nerror: {res['error']}\n")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer rounds and steps, 1 thread (a sanity run)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="directory for results.json/.md")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    p.add_argument("--threads", type=int, nargs="+", help="thread counts to measure (default: 1 and 2)")
    p.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                   help="measure nothing: rewrite the .md next to RESULTS_JSON from it (after a format change)")
    args = p.parse_args(argv)
    if args.render:
        payload = json.loads(args.render.read_text())
        if "batched" in payload["sections"] and "sizes" in payload["sections"]["batched"]:
            res = payload["sections"]["batched"]
            for size in res["sizes"]:
                for row in size["rows"]:
                    row.setdefault("N", size["setting"]["N"])
                    row.setdefault("m", size["setting"]["m"])
                    row.setdefault("d", size["setting"]["d"])
            res["explanations"] = [batched.explanation(r) for s in res["sizes"] for r in s["rows"]]
        write_json(args.render, payload)
        args.render.with_suffix(".md").write_text(render(payload) + "\n")
        print(render(payload))
        return
    t0 = time.perf_counter()
    payload = {"machine": machine_info(), "quick": args.quick, "sections": {}}
    previous = args.out / "results.json"
    if args.only and previous.exists():  # update only these sections of an earlier run of the same mode
        old = json.loads(previous.read_text())
        if old.get("quick") == args.quick:
            payload["sections"] = old.get("sections", {})
            payload["machine_of_other_sections"] = old.get("machine")
    for name in args.only or SECTIONS:
        log(f"== {name}")
        try:
            payload["sections"][name] = run_section(name, args.quick, args.threads)
            payload["sections"][name]["measured_at"] = machine_info()["date"]
        except Exception as exc:  # keep the other sections' results
            payload["sections"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"{name} failed: {exc!r}")
        payload["wall_s"] = time.perf_counter() - t0
        try:
            payload["load_average_end"] = list(os.getloadavg())
        except OSError:
            pass
        write_json(args.out / "results.json", payload)
        md = args.out / "results.md"
        md.write_text(render(payload) + "\n")
    log(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    print(render(payload))


if __name__ == "__main__":
    main()
