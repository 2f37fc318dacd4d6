"""Seconds per network pair under plain GD and under heavy-ball at the same integrated time.

The check suite's lazy settings reach a time t either by plain GD (η = 0.1: t/η steps) or by the
paper's heavy-ball (η = 0.1, β = 0.9: the fewest steps whose integrated time reaches t,
``theory.prediction.steps_for_time``). For the two ci covering examples of ``checks.axes`` (corner A:
identity loss, t = 2; corner B: logistic loss, t = 16), ``run_batch`` of the example's 12 pairs (what
the harness trains) runs interleaved with both optimisers in one process with one thread. Reports the
median seconds per pair, the steps, and the median of the per-round ratios heavy-ball / plain GD.

    python benchmarks/momentum_pairs.py [--repeats 3] [--out benchmarks/results]
"""

from __future__ import annotations


from checks.axes import EXAMPLE_MOMENTUM, EXAMPLE_TIMES, axis_examples
from perturbation_learning.run import run_batch
from theory.prediction import integrated_time, steps_for_time

from common import interleaved_bench_main, interleaved_timings, log, paired_ratio, pinned_threads


def with_momentum(setting, momentum: float):
    cfg = setting.config
    steps = steps_for_time(EXAMPLE_TIMES[cfg.loss], cfg.lr, momentum)
    return setting.with_config(momentum=momentum, epochs_f=steps, epochs_g=steps)


def measure(repeats: int) -> list[dict]:
    rows = []
    with pinned_threads(1):
        for name, corner in zip(("corner A (identity, t = 2)", "corner B (logistic, t = 16)"), axis_examples()):
            sides = {"plain GD": with_momentum(corner, 0.0), "heavy-ball": with_momentum(corner, EXAMPLE_MOMENTUM)}
            cases = {k: (lambda s=s: run_batch(s.config, list(s.seeds), predict_coverage="never"))
                     for k, s in sides.items()}
            t = interleaved_timings(cases, repeats=repeats)
            pairs = len(corner.seeds)
            for k, s in sides.items():
                c = s.config
                rows.append({"setting": name, "optimiser": k, "steps": c.epochs_f,
                             "t": round(integrated_time(c.lr, c.epochs_f, c.momentum), 3), "pairs": pairs,
                             "s/pair": t[k].median / pairs,
                             "ratio to plain GD": paired_ratio(t[k], t["plain GD"])})
                log(str(rows[-1]))
    return rows


def main(argv=None) -> int:
    return interleaved_bench_main(argv, description=__doc__.splitlines()[0], measure=measure, name="momentum_pairs",
                                  title="## Seconds per pair, plain GD and heavy-ball at the same time (1 thread)")


if __name__ == "__main__":
    raise SystemExit(main())
