"""VAEAC, GSNN, the hybrid model and NN (Ivanov, Figurnov & Vetrov, ICLR 2019): one model, one loop.

Public API:

* :class:`VAEACMethod`: the registry's imputer (``vaeac``, ``gsnn``, ``nn``).
* :class:`VAEACModel`, :class:`ArchConfig`, :class:`ObjectiveConfig`: the torch model.
* :func:`train`, :class:`TrainConfig`, :class:`TrainHistory`: the training loop (A.2).
* :func:`iwae_log_likelihood` (eq. 18), :func:`mc_log_likelihood` (eq. 17): likelihood estimators.
"""

from __future__ import annotations

from .estimators import iwae_log_likelihood, mc_log_likelihood
from .method import VAEACMethod, default_epochs, resolve_device
from .model import Batch, ObjectiveConfig, VAEACModel
from .networks import ArchConfig, VAEACNetworks
from .training import TrainConfig, TrainHistory, train

__all__ = [
    "ArchConfig", "Batch", "ObjectiveConfig", "TrainConfig", "TrainHistory", "VAEACMethod", "VAEACModel",
    "VAEACNetworks", "default_epochs", "iwae_log_likelihood", "mc_log_likelihood", "resolve_device", "train",
]
