"""The sub-commands of ``python -m perturbation_learning``: ``sweep``, ``calibrate``, ``reproduce``,
``decision_map`` (``map``), the Dask ``executor`` they hand their tasks to, and ``cli``, which
registers them. They import the core procedure (``config``, ``run``, ``predict``, ``files``, …);
the core never imports them.
"""
