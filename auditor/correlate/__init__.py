"""Correlation: Inventory -> ExposureGraph (pure)."""

from auditor.correlate.build import correlate, target_group_backend
from auditor.correlate.graph import BackendRef, ExposureGraph, IngressGroup, LbNode, Owner, ServiceExposure

__all__ = [
    "BackendRef",
    "ExposureGraph",
    "IngressGroup",
    "LbNode",
    "Owner",
    "ServiceExposure",
    "correlate",
    "target_group_backend",
]
