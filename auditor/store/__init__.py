"""History database: targets, runs, load balancers and findings across runs, suppressions, API tokens."""
