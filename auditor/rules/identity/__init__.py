"""Rules about the controller's AWS identity: IRSA or Pod Identity, role trust, policy actions."""
