"""Empirical-bound analysis of a run's records: fitted constants and figures (issue: reports).

``analyse(records, figures_dir)`` returns (json_dict, markdown_sections).
"""

from __future__ import annotations


def analyse(records: list[dict], figures_dir) -> tuple[dict, list[str]]:
    return {}, []
