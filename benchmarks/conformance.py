"""The cost of the conformance checks R1–R5 against the training they check, per setting.

For the settings the check suite trains most (the ci covering examples of ``checks.axes``, a control
example, and the paper-recipe setting of ``checks.strategies``), interleaved in one process with one
thread: ``train`` is ``run_batch`` of the setting's pairs (what the harness does), ``conformance``
is ``checks.conformance.check_runs`` on those pairs. Reports the median seconds per pair of each
and the median of the per-round ratios conformance/train.

    python benchmarks/conformance.py [--repeats 3] [--out benchmarks/results]
"""

from __future__ import annotations


from checks import conformance, session
from checks.axes import axis_examples, control_axis_examples
from checks.strategies import Setting, pair_seeds
from perturbation_learning.config import Config
from perturbation_learning.run import run_batch

from common import interleaved_bench_main, interleaved_timings, log, paired_ratio, pinned_threads


def settings() -> dict[str, Setting]:
    corner_a, corner_b = axis_examples()
    control = control_axis_examples()[0].with_config(attack="shuffled")
    # The paper recipe of ``paper_like_settings`` at one fixed draw (its sizes vary by example).
    paper = Setting(Config(dataset="shifted-gauss", d=60, n_train=150, n_test=500, pair="0,1", width=100, gamma=0.0,
                           loss="identity", lr=0.1, momentum=0.9, epochs_f=300, epochs_g=300, eps=0.001,
                           eps_mode="sqrt-d", scenario="a", targets="random"), pair_seeds(5, 12))
    return {"corner A (ci lazy, γ = 0, identity, a)": corner_a, "corner B (ci lazy, γ = 0.3, logistic, b)": corner_b,
            "control (shuffled)": control, "paper recipe (β = 0.9, 300 steps)": paper}


def measure(repeats: int) -> list[dict]:
    rows = []
    with pinned_threads(1):
        for name, s in settings().items():
            runs_box = {}

            def train(s=s):
                data = run_batch(s.config, list(s.seeds), predict_coverage="never")
                runs_box["runs"] = [(data, i) for i in range(len(s.seeds))]

            def check(s=s):
                conformance.check_runs(s, runs_box["runs"], "benchmark")
                session.current().discard()

            t = interleaved_timings({"train": train, "conformance": check}, repeats=repeats)
            pairs = len(s.seeds)
            rows.append({"setting": name, "pairs": pairs, "m": s.config.width, "N": s.config.n_train,
                         "train s/pair": t["train"].median / pairs, "conformance s/pair": t["conformance"].median / pairs,
                         "conformance/train": paired_ratio(t["conformance"], t["train"])})
            log(str(rows[-1]))
    return rows


def main(argv=None) -> int:
    return interleaved_bench_main(argv, description=__doc__.splitlines()[0], measure=measure, name="conformance",
                                  title="## Conformance checks R1–R5 against training, per pair (1 thread)")


if __name__ == "__main__":
    raise SystemExit(main())
