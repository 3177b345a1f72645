"""Rules about broken or half-configured exposures: annotations, provisioning, targets."""
