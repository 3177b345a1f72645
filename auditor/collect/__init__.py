"""Collection: the only code (with install) that talks to AWS and Kubernetes; output is the Inventory."""
