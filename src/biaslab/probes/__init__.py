"""Probes: callbacks that turn the lecture's claims into numbers and pictures, one per file.

Each reads the model only through the backbone contract (`biaslab.models.backbone.Backbone`)
and writes through `Probe.save` (CSV, PNG, W&B). Enable with the `probes` config group.
"""

from biaslab.probes.attention import AttentionMaps
from biaslab.probes.diagnosis import Diagnosis, diagnose, diagnose_depth
from biaslab.probes.hessian import HessianProbe
from biaslab.probes.invariance import Invariance, invariance_table
from biaslab.probes.pe_similarity import PESimilarity
from biaslab.probes.receptive_field import ReceptiveField

__all__ = [
    "AttentionMaps",
    "Diagnosis",
    "HessianProbe",
    "Invariance",
    "PESimilarity",
    "ReceptiveField",
    "diagnose",
    "diagnose_depth",
    "invariance_table",
]
