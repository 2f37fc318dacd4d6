"""Reports of a check run: typed records, the pytest plugin, the report writer and the empirical
analysis (numbers, figures, Markdown). Depends on ``theory`` and ``perturbation_learning.files``
only; ``checks`` emits records through :mod:`reporting.records`."""
