"""Benchmarks of the kernel, the trainer and the check run (issue 6).

``python -m bench.run_all [--quick] [--out bench/results]`` runs a–d and writes ``results.json`` and
``results.md``; ``python -m bench.checks_wall`` times the Hypothesis check run per profile (minutes).
Every comparison runs its sides interleaved in one process (A, B, A, B, …) and reports medians, the
median of the per-round ratios, and the torch thread count it ran with.
"""
