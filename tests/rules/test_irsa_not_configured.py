"""irsa-not-configured: the controller's service account without IRSA role or Pod Identity association."""

from auditor.findings import KubeRef, Status
from auditor.inventory.models import PodIdentityAssociation
from auditor.rules.identity.irsa_not_configured import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

SA = KubeRef(kind="ServiceAccount", namespace="kube-system", name="aws-load-balancer-controller")
ROLE = f"arn:aws:iam::{b.ACCOUNT}:role/lbc"


def test_no_annotation_no_association_fails():
    f = only(RULE, b.inventory(controllers=[b.controller()], service_accounts=[b.controller_sa()]))
    assert f.status == Status.FAIL and f.kubernetes == SA
    assert f.discriminator == "kube-system/aws-load-balancer-controller"
    assert "node's instance role" in f.message
    assert "auditor install-alb --cluster-name demo --region eu-west-1" in f.remediation
    assert "kubectl -n kube-system annotate serviceaccount aws-load-balancer-controller" in f.remediation
    assert "rollout restart deployment aws-load-balancer-controller" in f.remediation


def test_irsa_annotation_passes():
    f = only(RULE, b.inventory(controllers=[b.controller()], service_accounts=[b.controller_sa(ROLE)]))
    assert f.status == Status.PASS and f.resource_arn == ROLE
    assert f.evidence["role_arn_annotation"] == ROLE


def test_pod_identity_association_passes():
    eks = b.eks_cluster()
    eks.pod_identity_associations = [
        PodIdentityAssociation(
            association_id="a-1", namespace="kube-system", service_account="aws-load-balancer-controller"
        )
    ]
    inv = b.inventory(controllers=[b.controller()], service_accounts=[b.controller_sa()], eks_clusters=[eks])
    f = only(RULE, inv)
    assert f.status == Status.PASS and "a-1" in f.message


def test_association_for_another_service_account_does_not_count():
    eks = b.eks_cluster()
    eks.pod_identity_associations = [
        PodIdentityAssociation(association_id="a-2", namespace="kube-system", service_account="other")
    ]
    inv = b.inventory(controllers=[b.controller()], service_accounts=[b.controller_sa()], eks_clusters=[eks])
    assert only(RULE, inv).status == Status.FAIL


def test_associations_not_collected_without_annotation_is_unknown():
    eks = b.eks_cluster()
    eks.pod_identity_associations = None
    inv = b.inventory(controllers=[b.controller()], service_accounts=[b.controller_sa()], eks_clusters=[eks])
    f = only(RULE, inv)
    assert f.status == Status.UNKNOWN and "Pod Identity associations were not collected" in f.message
    # the annotation alone decides when present
    inv = b.inventory(controllers=[b.controller()], service_accounts=[b.controller_sa(ROLE)], eks_clusters=[eks])
    assert only(RULE, inv).status == Status.PASS


def test_no_controller_no_finding_and_kube_missing_unknown():
    assert run(RULE, b.inventory()) == []
    assert only(RULE, b.inventory(kube=False)).status == Status.UNKNOWN


def test_custom_service_account_name_and_missing_object():
    ctrl = b.controller(sa="lbc-sa")
    f = only(RULE, b.inventory(controllers=[ctrl], service_accounts=[b.controller_sa(ROLE)]))
    # the annotated SA is not the one the Deployment uses
    assert f.status == Status.FAIL
    assert f.kubernetes == KubeRef(kind="ServiceAccount", namespace="kube-system", name="lbc-sa")
    assert f.evidence["service_account_found"] is False
