"""Run moto in server mode in this process (demo and tests), with the gaps of moto filled in.

moto lacks calls the product uses; they are filled here by patching moto's backends, never by a
different code path in the product (see tests/README.md and ../shared/facts/test-doubles.md):
- ``wafv2:ListResourcesForWebACL`` is not implemented by moto: answered from moto's own
  association table (the same data ``GetWebACLForResource`` reads).
- EKS Pod Identity associations (``Create/List/Describe/DeletePodIdentityAssociation``) answer 404
  in moto: a minimal in-memory implementation is kept on moto's EKS backend (so ``/moto-api/reset``
  clears it), checked against moto's clusters.
- EKS gives every cluster of a region the same OIDC issuer (one random id per process): each new
  cluster gets its own ``https://oidc.eks.<region>.amazonaws.com/id/<32 hex>``, as on AWS, so
  IRSA trust and OIDC providers can differ between clusters.
- EKS ``DescribeCluster`` has no ``resourcesVpcConfig.vpcId``: filled from the first subnet's VPC
  in moto's EC2 backend, as AWS does.
- ACM ``ListCertificates`` summaries lack ``SubjectAlternativeNameSummaries`` and
  ``HasAdditionalSubjectAlternativeNames``: added the way AWS fills them (first 100 names).
- The Price List API (``pricing:GetProducts``) has no moto backend at all: requests for it are answered
  from the product documents given to ``MotoServer.serve_price_list`` (AWS's public data, the same
  for every account: a reset keeps them), filtered and paged the way the API does; ``deny_price_list``
  makes it answer AccessDeniedException, as for an identity without ``pricing:GetProducts``.
- Cost Explorer's ``GetCostAndUsageWithResources`` is missing too: answered from the daily costs given to
  ``MotoServer.serve_billed_costs`` (one day per page), or as denied / not enabled.
- ELBv2 ``DescribeLoadBalancerAttributes`` of an ALB lacks the attributes AWS always returns with their
  defaults: ``routing.http.desync_mitigation_mode`` (``defensive``) and
  ``routing.http.drop_invalid_header_fields.enabled`` (``false``) are added to every new ALB, as AWS documents them
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#load-balancer-attributes).
  Classic ``DescribeLoadBalancerAttributes`` lacks ``elb.http.desyncmitigationmode`` (``defensive``) among the
  AdditionalAttributes of a new load balancer (moto adds it only after a modify): added to the defaults too
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/config-desync-mitigation-mode.html).
- Under IAM enforcement moto checks the signature of GET/DELETE requests against the parsed query
  instead of the (empty) body, so every EKS GET call failed with SignatureDoesNotMatch: the
  signature is recomputed over the body that was actually sent.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests  # moto[server] depends on it
from moto.server import ThreadedMotoServer

_PATCHED = False
# The Price List documents the patched server answers GetProducts from: ServiceCode -> product documents.
_PRICE_LIST: dict[str, list[dict[str, Any]]] = {}
_PRICE_LIST_DENIED = {"on": False}
# Cost Explorer's resource-level data the patched server answers from: load balancer ARN -> USD a day.
_BILLED: dict[str, Any] = {"daily": {}, "denied": False, "enabled": True}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def point_boto3_at(port: int, region: str) -> None:
    """This process's (and its children's) boto3 reaches the moto server on ``port`` with fake credentials: the
    benchmarks' environment (the demo keeps and restores the caller's environment itself)."""
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts any key; nothing real
        AWS_DEFAULT_REGION=region,
        AWS_MAX_ATTEMPTS="2",
        # moto has no bucket shared with a controller to leave room in: the auditor's client-side rate limit off
        AUDITOR_AWS__CALLS_PER_SECOND="0",
    )
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)


def _patch_moto() -> None:
    """Fill moto gaps in-process (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    from moto.wafv2.responses import WAFV2Response

    def list_resources_for_web_acl(self: Any) -> str:
        body = json.loads(self.body)
        arn = body["WebACLArn"]
        backend = self.wafv2_backend
        acl = backend.wacls.get(arn)
        if acl is None:
            self.current_status = 400  # type: ignore[attr-defined]
            return json.dumps({"__type": "WAFNonexistentItemException", "message": "web ACL not found"})
        resources = [res for res, acl_arn in _associations(backend).items() if acl_arn == arn]
        return json.dumps({"ResourceArns": sorted(resources)})

    WAFV2Response.list_resources_for_web_acl = list_resources_for_web_acl  # type: ignore[attr-defined]
    _patch_eks_pod_identity()
    _patch_eks_addons()
    _patch_eks_vpc_id()
    _patch_eks_issuer()
    _patch_alb_attribute_defaults()
    _patch_acm_san_summaries()
    _patch_acm_in_use_by()
    _patch_signature_of_bodyless_requests()
    _patch_price_list()
    _PATCHED = True


# --------------------------------------------------------------------------- EKS Pod Identity


def _pod_identity_table(backend: Any) -> dict[str, dict[str, Any]]:
    """association id -> association, stored on moto's EKS backend so a reset clears it."""
    table: dict[str, dict[str, Any]] | None = getattr(backend, "_auditor_pod_identity", None)
    if table is None:
        table = {}
        backend._auditor_pod_identity = table
    return table


def _patch_eks_pod_identity() -> None:
    from moto.eks import urls as eks_urls
    from moto.eks.exceptions import InvalidParameterException, ResourceInUseException, ResourceNotFoundException
    from moto.eks.responses import EKSResponse

    base = "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations"
    eks_urls.url_paths[base + "$"] = eks_urls.response.dispatch
    eks_urls.url_paths[base + "/(?P<associationId>[^/]+)$"] = eks_urls.response.dispatch

    def cluster_of(resp: Any) -> Any:
        # raises moto's own ResourceNotFoundException (404) for an unknown cluster
        return resp.eks_backend.describe_cluster(name=resp._get_param("name"))

    def not_found(association_id: str) -> Exception:
        return ResourceNotFoundException(  # type: ignore[no-any-return]
            clusterName=None,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message=f"No Pod Identity Association found with id {association_id}",
        )

    def find(resp: Any) -> dict[str, Any]:
        cluster = cluster_of(resp)
        association_id = resp._get_param("associationId")
        found = _pod_identity_table(resp.eks_backend).get(association_id)
        if found is None or found["clusterName"] != cluster.name:
            raise not_found(association_id)
        return found

    def create_pod_identity_association(self: Any) -> Any:
        from moto.core.responses import ActionResult

        cluster = cluster_of(self)
        namespace, service_account = self._get_param("namespace"), self._get_param("serviceAccount")
        role_arn = self._get_param("roleArn")
        if not (namespace and service_account and role_arn):
            raise InvalidParameterException(message="namespace, serviceAccount and roleArn are required")
        table = _pod_identity_table(self.eks_backend)
        if any(
            a["clusterName"] == cluster.name and a["namespace"] == namespace and a["serviceAccount"] == service_account
            for a in table.values()
        ):
            raise ResourceInUseException(
                clusterName=cluster.name,
                nodegroupName=None,
                addonName=None,
                message="Association already exists for this namespace and service account",
            )
        association_id = "a-" + uuid.uuid4().hex[:17]
        now = datetime.now(UTC)
        association = {
            "clusterName": cluster.name,
            "namespace": namespace,
            "serviceAccount": service_account,
            "roleArn": role_arn,
            "associationArn": cluster.arn.replace(":cluster/", ":podidentityassociation/") + "/" + association_id,
            "associationId": association_id,
            "tags": self._get_param("tags") or {},
            "createdAt": now,
            "modifiedAt": now,
        }
        table[association_id] = association
        return ActionResult({"association": association})

    def list_pod_identity_associations(self: Any) -> Any:
        from moto.core.responses import ActionResult

        cluster = cluster_of(self)
        namespace, service_account = self._get_param("namespace"), self._get_param("serviceAccount")
        rows = [
            {k: a[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")}
            for a in _pod_identity_table(self.eks_backend).values()
            if a["clusterName"] == cluster.name
            and (not namespace or a["namespace"] == namespace)
            and (not service_account or a["serviceAccount"] == service_account)
        ]
        rows.sort(key=lambda r: r["associationId"])
        max_results = int(self._get_param("maxResults") or 100)
        start = int(self._get_param("nextToken") or 0)
        page = rows[start : start + max_results]
        result: dict[str, Any] = {"associations": page}
        if start + max_results < len(rows):
            result["nextToken"] = str(start + max_results)
        return ActionResult(result)

    def describe_pod_identity_association(self: Any) -> Any:
        from moto.core.responses import ActionResult

        return ActionResult({"association": find(self)})

    def delete_pod_identity_association(self: Any) -> Any:
        from moto.core.responses import ActionResult

        association = find(self)
        del _pod_identity_table(self.eks_backend)[association["associationId"]]
        return ActionResult({"association": association})

    EKSResponse.create_pod_identity_association = create_pod_identity_association  # type: ignore[attr-defined]
    EKSResponse.list_pod_identity_associations = list_pod_identity_associations  # type: ignore[attr-defined]
    EKSResponse.describe_pod_identity_association = describe_pod_identity_association  # type: ignore[attr-defined]
    EKSResponse.delete_pod_identity_association = delete_pod_identity_association  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- EKS add-ons (moto answers 404)


def _patch_eks_addons() -> None:
    """CreateAddon and DescribeAddon, enough to tell whether vpc-cni is an add-on and read its configuration
    values (https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribeAddon.html)."""
    from moto.eks import urls as eks_urls
    from moto.eks.exceptions import ResourceNotFoundException
    from moto.eks.responses import EKSResponse

    base = "{0}/clusters/(?P<name>[^/]+)/addons"
    eks_urls.url_paths[base + "$"] = eks_urls.response.dispatch
    eks_urls.url_paths[base + "/(?P<addonName>[^/]+)$"] = eks_urls.response.dispatch

    def table(backend: Any) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] | None = getattr(backend, "_auditor_addons", None)
        if found is None:
            found = {}
            backend._auditor_addons = found
        return found

    def create_addon(self: Any) -> Any:
        from moto.core.responses import ActionResult

        cluster = self.eks_backend.describe_cluster(name=self._get_param("name"))
        name = self._get_param("addonName")
        now = datetime.now(UTC)
        addon = {
            "addonName": name,
            "clusterName": cluster.name,
            "status": "ACTIVE",
            "addonVersion": self._get_param("addonVersion") or "v1.19.2-eksbuild.1",
            "addonArn": cluster.arn.replace(":cluster/", ":addon/") + f"/{name}/" + uuid.uuid4().hex[:12],
            "createdAt": now,
            "modifiedAt": now,
            "configurationValues": self._get_param("configurationValues") or "",
            "tags": self._get_param("tags") or {},
        }
        table(self.eks_backend)[(cluster.name, name)] = addon
        return ActionResult({"addon": addon})

    def describe_addon(self: Any) -> Any:
        from moto.core.responses import ActionResult

        cluster = self.eks_backend.describe_cluster(name=self._get_param("name"))
        name = self._get_param("addonName")
        addon = table(self.eks_backend).get((cluster.name, name))
        if addon is None:
            raise ResourceNotFoundException(
                clusterName=cluster.name,
                nodegroupName=None,
                fargateProfileName=None,
                addonName=name,
                message=f"No addon: {name} found in cluster: {cluster.name}",
            )
        return ActionResult({"addon": addon})

    EKSResponse.create_addon = create_addon  # type: ignore[attr-defined]
    EKSResponse.describe_addon = describe_addon  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- ELBv2 attributes

# What AWS answers for an ALB whose attributes were never set (the ones the product reads).
ALB_ATTRIBUTE_DEFAULTS = {
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
}


CLASSIC_DESYNC_DEFAULT = ("elb.http.desyncmitigationmode", "defensive")


def _patch_alb_attribute_defaults() -> None:
    from moto.elb.models import LoadBalancer as ClassicLoadBalancer
    from moto.elbv2.models import FakeLoadBalancer

    original = FakeLoadBalancer.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.type == "application":
            self.attrs.update(ALB_ATTRIBUTE_DEFAULTS)

    FakeLoadBalancer.__init__ = init  # type: ignore[method-assign]

    classic_defaults = ClassicLoadBalancer.get_default_attributes

    def get_default_attributes() -> dict[str, Any]:
        attributes: dict[str, Any] = classic_defaults()
        attributes["additional_attributes"] = [CLASSIC_DESYNC_DEFAULT]
        return attributes

    ClassicLoadBalancer.get_default_attributes = staticmethod(get_default_attributes)  # type: ignore[method-assign,assignment]


def _patch_eks_vpc_id() -> None:
    from moto.ec2.models import ec2_backends
    from moto.eks.models import EKSBackend

    original = EKSBackend.describe_cluster

    def describe_cluster(self: Any, name: str) -> Any:
        cluster = original(self, name)
        vpc_config = cluster.resources_vpc_config
        if isinstance(vpc_config, dict) and not vpc_config.get("vpcId") and vpc_config.get("subnetIds"):
            subnet_id = vpc_config["subnetIds"][0]
            subnets = ec2_backends[self.account_id][self.region_name].subnets
            for by_zone in subnets.values():
                if subnet_id in by_zone:
                    vpc_config["vpcId"] = by_zone[subnet_id].vpc_id
                    break
        return cluster

    EKSBackend.describe_cluster = describe_cluster  # type: ignore[method-assign]


def _patch_eks_issuer() -> None:
    from moto.eks.models import EKSBackend

    original = EKSBackend.create_cluster

    def create_cluster(self: Any, *args: Any, **kwargs: Any) -> Any:
        cluster = original(self, *args, **kwargs)
        issuer_id = uuid.uuid4().hex.upper()
        cluster.identity = {"oidc": {"issuer": f"https://oidc.eks.{self.region_name}.amazonaws.com/id/{issuer_id}"}}
        return cluster

    EKSBackend.create_cluster = create_cluster  # type: ignore[method-assign]


# --------------------------------------------------------------------------- ACM


def _patch_acm_san_summaries() -> None:
    from moto.acm.responses import AWSCertificateManagerResponse
    from moto.core.responses import ActionResult

    def list_certificates(self: Any) -> Any:
        certs = []
        statuses = self._get_param("CertificateStatuses")
        includes = self._get_param("Includes")
        for bundle in self.acm_backend.list_certificates(statuses, includes):
            summary = bundle.describe()["Certificate"]
            summary["InUse"] = bool(summary.pop("InUseBy", []))
            summary["Exported"] = bundle.cert_options["Export"] == "ENABLED"
            names = list(summary.get("SubjectAlternativeNames") or [])
            summary["SubjectAlternativeNameSummaries"] = names[:100]
            summary["HasAdditionalSubjectAlternativeNames"] = len(names) > 100
            certs.append(summary)
        return ActionResult({"CertificateSummaryList": certs})

    AWSCertificateManagerResponse.list_certificates = list_certificates  # type: ignore[method-assign]


def _patch_acm_in_use_by() -> None:
    """ACM ``InUseBy`` as AWS keeps it: the ARN of every load balancer serving the certificate, as default or SNI
    certificate, right now. moto records only an elbv2 listener's ARN when the listener is created (never its SNI
    certificates, never cleared); this answers from the load balancers' current listeners instead."""
    from moto.acm.models import CertBundle
    from moto.elb.models import elb_backends
    from moto.elbv2.models import elbv2_backends

    original = CertBundle.describe

    def users(arn: str) -> list[str]:
        parts = arn.split(":")
        partition, region, account = parts[1], parts[3], parts[4]
        found = {
            lb_arn
            for lb_arn, lb in elbv2_backends[account][region].load_balancers.items()
            for listener in lb.listeners.values()
            if arn in (listener.certificates or [])
        }
        found |= {
            f"arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/{name}"
            for name, lb in elb_backends[account][region].load_balancers.items()
            if any(listener.ssl_certificate_id == arn for listener in lb.listeners)
        }
        return sorted(found)

    def describe(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original(self)
        result["Certificate"]["InUseBy"] = users(self.arn)
        return result

    CertBundle.describe = describe  # type: ignore[method-assign]


# --------------------------------------------------------------------------- Price List


def _product_value(product: dict[str, Any], field: str) -> str:
    body = product.get("product", {})
    if field == "productFamily":
        return str(body.get("productFamily") or "")
    if field == "ServiceCode":
        return str(product.get("serviceCode") or "")
    return str(body.get("attributes", {}).get(field, ""))


def _matches(product: dict[str, Any], filters: list[dict[str, str]]) -> bool:
    for f in filters:
        value = _product_value(product, f["Field"])
        if f.get("Type", "TERM_MATCH") == "TERM_MATCH" and value != f["Value"]:
            return False
        if f.get("Type") == "CONTAINS" and f["Value"] not in value:
            return False
    return True


def _get_products(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if _PRICE_LIST_DENIED["on"]:
        message = "User is not authorized to perform: pricing:GetProducts"
        return 400, {"__type": "AccessDeniedException", "Message": message}
    found = [p for p in _PRICE_LIST.get(body.get("ServiceCode", ""), []) if _matches(p, body.get("Filters") or [])]
    start = int(body.get("NextToken") or 0)
    size = int(body.get("MaxResults") or 100)
    answer: dict[str, Any] = {
        "FormatVersion": "aws_v1",
        "PriceList": [json.dumps(p) for p in found[start : start + size]],  # strings, as the API sends them
    }
    if start + size < len(found):
        answer["NextToken"] = str(start + size)
    return 200, answer


def _cost_and_usage_with_resources(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Cost Explorer's resource-level daily costs from ``MotoServer.serve_billed_costs``: one day per page, as
    a long answer is paged by NextPageToken (moto has only GetCostAndUsage, without resources)."""
    if _BILLED["denied"]:
        message = "User is not authorized to perform: ce:GetCostAndUsageWithResources"
        return 400, {"__type": "AccessDeniedException", "Message": message}
    if not _BILLED["enabled"]:
        return 400, {"__type": "DataUnavailableException", "Message": "Resource-level data is not enabled."}
    start = datetime.fromisoformat(body["TimePeriod"]["Start"]).date()
    end = datetime.fromisoformat(body["TimePeriod"]["End"]).date()
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    index = int(body.get("NextPageToken") or 0)
    day = days[index] if index < len(days) else None
    groups = [
        {"Keys": [arn], "Metrics": {"UnblendedCost": {"Amount": f"{per_day:.6f}", "Unit": "USD"}}}
        for arn, per_day in sorted(_BILLED["daily"].items())
    ]
    answer: dict[str, Any] = {
        "ResultsByTime": []
        if day is None
        else [
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Groups": groups,
                "Estimated": False,
            }
        ],
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "RESOURCE_ID"}],
    }
    if index + 1 < len(days):
        answer["NextPageToken"] = str(index + 1)
    return 200, answer


# X-Amz-Target -> a handler for a JSON API moto lacks: (status, answer) from the request body
_MISSING_APIS = {
    "AWSPriceListService.GetProducts": _get_products,
    "AWSInsightsIndexService.GetCostAndUsageWithResources": _cost_and_usage_with_resources,
}


def _patch_price_list() -> None:
    """Answer the JSON APIs moto lacks (``_MISSING_APIS``) before moto's dispatcher sees them."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def dispatch(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        handler = _MISSING_APIS.get(environ.get("HTTP_X_AMZ_TARGET", ""))
        if handler is None:
            return original(self, environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        status, answer = handler(body)
        payload = json.dumps(answer).encode()
        start_response(
            "200 OK" if status == 200 else "400 Bad Request",
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]


# --------------------------------------------------------------------------- IAM enforcement


def _patch_signature_of_bodyless_requests() -> None:
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request

    def create_aws_request(self: Any) -> Any:
        request = original(self)
        if self._method in ("GET", "HEAD", "DELETE") and not self._body:
            # the client signed an empty payload; moto passed its parsed query dict as the body
            # (POST forms must keep it: moto may have consumed their raw body already)
            request.data = b""
        return request

    IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]


def _associations(backend: Any) -> dict[str, str]:
    """resource ARN -> web ACL ARN, read from moto's wafv2 backend (its own association table)."""
    found: dict[str, str] = {}
    for acl_arn, acl in backend.wacls.items():
        for res in getattr(acl, "associated_resources", []) or []:
            found[res] = acl_arn
    return found


class MotoServer:
    """A moto server on 127.0.0.1:<free port>; ``url`` goes into AWS_ENDPOINT_URL."""

    def __init__(self, port: int | None = None) -> None:
        _patch_moto()
        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        _BILLED.update(daily={}, denied=False, enabled=True)  # the account's data, unlike public prices

    def serve_billed_costs(self, daily: dict[str, float], *, enabled: bool = True, denied: bool = False) -> None:
        """Answer ``ce:GetCostAndUsageWithResources`` with these load balancers' daily costs (USD), or as an
        account without resource-level data (``enabled=False``) or an identity without the permission."""
        _BILLED.update(daily=dict(daily), enabled=enabled, denied=denied)

    def serve_price_list(self, products: list[dict[str, Any]]) -> None:
        """Answer ``pricing:GetProducts`` from these Price List product documents (added to any served)."""
        for product in products:
            _PRICE_LIST.setdefault(str(product.get("serviceCode", "")), []).append(product)

    def clear_price_list(self) -> None:
        _PRICE_LIST.clear()
        _PRICE_LIST_DENIED["on"] = False

    def deny_price_list(self, denied: bool = True) -> None:
        """``pricing:GetProducts`` answers AccessDeniedException (an identity without the permission)."""
        _PRICE_LIST_DENIED["on"] = denied

    def set_iam_enforcement(self, on: bool) -> None:
        """Switch moto's IAM policy enforcement on (every request checked) or off."""
        requests.post(
            f"{self.url}/moto-api/reset-auth",
            data="0" if on else "inf",
            headers={"Content-Type": "text/plain"},
            timeout=10,
        ).raise_for_status()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
