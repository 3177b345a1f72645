"""Rules about the AWS Load Balancer Controller running in the cluster."""
