"""Typed inventory models (the contract between collectors and everything pure after them)."""

from auditor.inventory.models import *  # noqa: F403
from auditor.inventory.models import SCHEMA_VERSION, Inventory

__all__ = ["SCHEMA_VERSION", "Inventory"]
