"""Rules about who owns a load balancer: orphans and legacy in-tree Classic load balancers."""
