"""Reports of a check run: typed records, the report writer, the empirical analysis (numbers, figures,
Markdown), the comparison of two runs, and the report's side of the check run (``run_report``: its
options and the baseline). Depends on ``theory`` and ``perturbation_learning.files`` only: it receives
plain data (records and a metadata dict) from ``checks``, whose plugin runs the checks."""
