"""Hypothesis property checks of the paper's claims; run with ``pytest -n auto checks/``."""
