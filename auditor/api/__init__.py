"""The REST API of `auditor serve` (FastAPI): findings, load balancers, runs, targets, suppressions, reports."""
