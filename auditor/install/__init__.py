"""`auditor install-alb`: discover, plan, apply and verify the AWS Load Balancer Controller install."""

from auditor.install.apply import ApplyContext, apply
from auditor.install.discover import discover
from auditor.install.model import Action, ApplyReport, InstallOptions, Plan, State, Step, StepResult
from auditor.install.plan import plan
from auditor.install.verify import VERIFY_RULES, verify

__all__ = [
    "VERIFY_RULES",
    "Action",
    "ApplyContext",
    "ApplyReport",
    "InstallOptions",
    "Plan",
    "State",
    "Step",
    "StepResult",
    "apply",
    "discover",
    "plan",
    "verify",
]
