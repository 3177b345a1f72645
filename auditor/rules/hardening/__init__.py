"""Opt-in rules over load balancer settings that cost one call per load balancer to read (``RuleMeta.opt_in``)."""
