"""Rules about what load balancers cost: duplicates, own load balancers for HTTP, ungrouped Ingresses."""
