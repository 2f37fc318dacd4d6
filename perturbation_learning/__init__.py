"""The perturbation-learning procedure: networks, training, attacks, data and the experiment runner."""

__version__ = "0.1.0"
