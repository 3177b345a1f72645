"""Rules about web application firewalls in front of public load balancers."""
