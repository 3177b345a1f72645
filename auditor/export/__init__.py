"""Sending a run's findings elsewhere: AWS Security Hub (``securityhub``). The formats live in ``auditor.output``."""
