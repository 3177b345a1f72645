"""eks-exposure-auditor: how an EKS cluster is exposed through AWS load balancers, and at what cost."""

__version__ = "0.1.0"
