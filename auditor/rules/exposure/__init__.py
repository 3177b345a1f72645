"""Rules about what is reachable from the internet."""
