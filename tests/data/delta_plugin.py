"""A pytest plugin that plants a drift of the theory: δ of every per-point bound set to $PLANT_DELTA.

Used to make the comparison's planted-drift fixture by the real mechanism (tests/data/README.md):
loaded with ``-p delta_plugin`` before the checks import ``theory.tolerances.CHECK_DELTA``, in the
controller and in every xdist worker (they get the same command line).
"""

import os

import theory.tolerances

theory.tolerances.CHECK_DELTA = float(os.environ.get("PLANT_DELTA", theory.tolerances.CHECK_DELTA))
