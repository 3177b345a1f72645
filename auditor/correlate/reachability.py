"""Reachability (pure): which source addresses a listener port admits, merged from every place that says so.

Inputs are plain strings as AWS and Kubernetes hold them: security group rules (IPv4 and IPv6 ranges,
managed prefix lists resolved to their CIDRs, references to other security groups), a Service's
``spec.loadBalancerSourceRanges`` or source-ranges annotation, an Ingress's
``alb.ingress.kubernetes.io/inbound-cidrs`` and IngressClassParams ``spec.inboundCIDRs``. ``judge``
merges them per address family with ``ipaddress.collapse_addresses`` and answers:

- ``WORLD``: the merged set covers a whole family (``0.0.0.0/1`` + ``128.0.0.0/1`` is ``0.0.0.0/0``);
- ``BROAD``: it admits more than ``BROAD_IPV4`` public IPv4 (or ``BROAD_IPV6`` public IPv6) addresses,
  public meaning outside the special-purpose space of the IANA registries (RFC 6890);
- ``LIMITED``: computed, and neither;
- ``UNKNOWN``: an input could not be read (a prefix list, a security group) or parsed (a malformed
  CIDR), and what is known is not already open. Inputs only ever add addresses, so an unknown one
  cannot close what the known ones open: those stay ``WORLD`` / ``BROAD``.

Nothing here raises on malformed input: a string that is not a CIDR is reported in ``invalid``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

from auditor.correlate.annotations import ALB, SOURCE_RANGES, SVC, IngressSettings, source_ranges_refused
from auditor.inventory.models import ManagedPrefixList, SecurityGroup, SecurityGroupPermission, Service

IPv4Net: TypeAlias = ipaddress.IPv4Network
IPv6Net: TypeAlias = ipaddress.IPv6Network
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# A set admitting more public addresses than this is "broadly open". 2^24 IPv4 addresses is a /8, the
# largest block a regional registry ever received from IANA at once; no office, VPN or partner range is
# that large. For IPv6 the counterpart is a /32, the minimum allocation a regional registry makes to an
# ISP (RIPE-738 §5.1.2, ARIN NRPM 6.5.2): more than one ISP's worth of addresses is not a trusted range.
BROAD_IPV4 = 2**24
BROAD_IPV6 = 2**96

_WHOLE_V4 = IPv4Net("0.0.0.0/0")
_WHOLE_V6 = IPv6Net("::/0")

# IPv4 space that is not globally reachable: the IANA IPv4 Special-Purpose Address Registry entries whose
# "Globally Reachable" is False (RFC 6890 §2.2.2 and its updates,
# https://www.iana.org/assignments/iana-ipv4-special-registry/), plus multicast 224.0.0.0/4 (RFC 5771: never
# a source address). Entries marked True or N/A (AS112, AMT, the deprecated 6to4 relay anycast) stay public:
# counting them can only make a verdict stricter.
_NOT_PUBLIC_V4 = tuple(
    IPv4Net(c)
    for c in (
        "0.0.0.0/8",  # "this network", RFC 791
        "10.0.0.0/8",  # private, RFC 1918
        "100.64.0.0/10",  # shared address space (carrier-grade NAT), RFC 6598
        "127.0.0.0/8",  # loopback, RFC 1122
        "169.254.0.0/16",  # link local, RFC 3927
        "172.16.0.0/12",  # private, RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments, RFC 6890 (192.0.0.9/32 and .10/32 are added back below)
        "192.0.2.0/24",  # documentation TEST-NET-1, RFC 5737
        "192.168.0.0/16",  # private, RFC 1918
        "198.18.0.0/15",  # benchmarking, RFC 2544
        "198.51.100.0/24",  # documentation TEST-NET-2, RFC 5737
        "203.0.113.0/24",  # documentation TEST-NET-3, RFC 5737
        "224.0.0.0/4",  # multicast, RFC 5771
        "240.0.0.0/4",  # reserved, RFC 1112 (includes limited broadcast 255.255.255.255/32, RFC 919)
    )
)
_GLOBAL_EXCEPTIONS_V4 = (IPv4Net("192.0.0.9/32"), IPv4Net("192.0.0.10/32"))  # PCP anycast, TURN anycast: True

# Public IPv6: the global unicast space 2000::/3 (RFC 4291 §2.4, IANA "IPv6 Address Space" registry) and the
# NAT64 well-known prefix 64:ff9b::/96 (RFC 6052, globally reachable), less the IANA IPv6 Special-Purpose
# Address Registry entries inside them whose "Globally Reachable" is False
# (https://www.iana.org/assignments/iana-ipv6-special-registry/). Teredo and 6to4 carry internet clients,
# so they count as public. Everything else (ULA fc00::/7, link local fe80::/10, multicast ff00::/8,
# loopback, IPv4-mapped ::ffff:0:0/96) is not.
_PUBLIC_ROOTS_V6 = (IPv6Net("2000::/3"), IPv6Net("64:ff9b::/96"))
_NOT_PUBLIC_V6 = tuple(
    IPv6Net(c)
    for c in (
        "2001:2::/48",  # benchmarking, RFC 5180
        "2001:db8::/32",  # documentation, RFC 3849
        "3fff::/20",  # documentation, RFC 9637
    )
)


def _subtract(roots: Iterable[Any], holes: Iterable[Any]) -> list[Any]:
    """``roots`` less every network of ``holes`` (address_exclude splits a block around a hole)."""
    parts = list(roots)
    for hole in holes:
        kept: list[Any] = []
        for net in parts:
            if hole.subnet_of(net):
                kept.extend(net.address_exclude(hole))
            elif not net.subnet_of(hole):
                kept.append(net)
        parts = kept
    return parts


PUBLIC_V4: tuple[IPv4Net, ...] = tuple(
    ipaddress.collapse_addresses([*_subtract([_WHOLE_V4], _NOT_PUBLIC_V4), *_GLOBAL_EXCEPTIONS_V4])
)
PUBLIC_V6: tuple[IPv6Net, ...] = tuple(ipaddress.collapse_addresses(_subtract(_PUBLIC_ROOTS_V6, _NOT_PUBLIC_V6)))

_IPV4_MAPPED = IPv6Net("::ffff:0:0/96")
_EVIDENCE_LIMIT = 20  # merged ranges (and origins per range) spelled out in evidence


class Openness(StrEnum):
    """How open a listener port is (see the module docstring); the value is what evidence says."""

    WORLD = "open-to-world"
    BROAD = "broadly-open"
    LIMITED = "limited"
    UNKNOWN = "unknown"

    @property
    def open(self) -> bool:
        return self in (Openness.WORLD, Openness.BROAD)


@dataclass(frozen=True, slots=True)
class Source:
    """One admitted range as it was written, and where (``security group sg-1 tcp 5432``); a security group
    rule's range also keeps the group, the rule and the prefix list it came through (for remediations)."""

    cidr: str
    origin: str
    security_group: str | None = None
    permission: SecurityGroupPermission | None = field(default=None, compare=False)
    prefix_list: str | None = None


@dataclass(slots=True)
class Admitted:
    """What the inputs of one listener port admit, before judging: ranges, inputs not read, peers not public."""

    sources: list[Source] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # e.g. "prefix list pl-1 (in ...) was not read"
    not_public: list[str] = field(default_factory=list)  # e.g. "security group sg-2 (in security group sg-1 ...)"

    def add(self, cidrs: Iterable[object], origin: str, **where: Any) -> None:
        self.sources.extend(Source(str(c), origin, **where) for c in cidrs)

    def extend(self, other: Admitted) -> None:
        self.sources.extend(other.sources)
        self.unresolved.extend(other.unresolved)
        self.not_public.extend(other.not_public)

    def judge(self) -> Reachability:
        return judge(self.sources, unresolved=self.unresolved, not_public=self.not_public)


@dataclass(frozen=True, slots=True)
class Reachability:
    """The verdict over merged ranges, and what it rests on."""

    openness: Openness
    ipv4: tuple[IPv4Net, ...]  # merged admitted IPv4 ranges (IPv4-mapped IPv6 ranges included, see parse_cidr)
    ipv6: tuple[IPv6Net, ...]
    public_ipv4: int  # public addresses admitted
    public_ipv6: int
    sources: tuple[tuple[Source, Network], ...]  # every valid source with the network it stands for
    invalid: tuple[Source, ...]
    unresolved: tuple[str, ...]
    not_public: tuple[str, ...]

    @property
    def open(self) -> bool:
        return self.openness.open

    @property
    def world_families(self) -> list[str]:
        return [
            f for f, nets, whole in (("IPv4", self.ipv4, _WHOLE_V4), ("IPv6", self.ipv6, _WHOLE_V6)) if whole in nets
        ]

    def summary(self) -> str:
        """'open to the world (0.0.0.0/0)', 'broadly open (33,554,432 public IPv4 addresses)', 'limited to ...'."""
        if self.openness == Openness.WORLD:
            whole = [str(_WHOLE_V4) if f == "IPv4" else str(_WHOLE_V6) for f in self.world_families]
            return f"open to the world ({', '.join(whole)})"
        if self.openness == Openness.BROAD:
            counts = []
            if self.public_ipv4 > BROAD_IPV4:
                counts.append(f"{self.public_ipv4:,} public IPv4 addresses")
            if self.public_ipv6 > BROAD_IPV6:
                counts.append(f"2^{self.public_ipv6.bit_length() - 1}+ public IPv6 addresses")
            return f"broadly open ({', '.join(counts)})"
        if self.openness == Openness.LIMITED:
            merged = [str(n) for n in (*self.ipv4, *self.ipv6)]
            if not merged:
                return "admitted from no address range"
            shown = ", ".join(merged[:5]) + (f" (+{len(merged) - 5} more)" if len(merged) > 5 else "")
            return f"limited to {shown}"
        reasons = [*self.unresolved, *(f"{s.cidr!r} ({s.origin}) is not a CIDR" for s in self.invalid)]
        return "unknown: " + "; ".join(reasons[:3]) + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else "")

    def public_sources(self) -> list[Source]:
        """The sources that admit some public address, in input order."""
        return [s for s, net in self.sources if _public_count(net)]

    def public_ranges(self) -> list[dict[str, Any]]:
        """The merged ranges that reach public space, each with the sources it was merged from."""
        found: list[dict[str, Any]] = []
        merged: list[Network] = [*self.ipv4, *self.ipv6]
        for net in merged:
            public = _public_count(net)
            if not public:
                continue
            origins = [f"{s.cidr} ({s.origin})" for s, n in self.sources if _within(n, net)]
            found.append({"cidr": str(net), "public_addresses": public, "from": origins[:_EVIDENCE_LIMIT]})
        return found

    def evidence(self) -> dict[str, Any]:
        ranges = self.public_ranges()
        ev: dict[str, Any] = {
            "reachability": self.openness.value,
            "public_ranges": ranges[:_EVIDENCE_LIMIT],
            "public_ipv4_addresses": self.public_ipv4,
        }
        if len(ranges) > _EVIDENCE_LIMIT:
            ev["public_ranges_more"] = len(ranges) - _EVIDENCE_LIMIT
        if self.public_ipv6:
            ev["public_ipv6_addresses"] = str(self.public_ipv6)  # beyond JSON's safe integers
        if self.invalid:
            ev["invalid_cidrs"] = [{"cidr": s.cidr, "from": s.origin} for s in self.invalid]
        if self.unresolved:
            ev["not_read"] = list(self.unresolved)
        if self.not_public:
            ev["not_public_sources"] = list(self.not_public)
        return ev


def parse_cidr(text: object) -> Network | None:
    """The network a CIDR string stands for, or None when it is not one. Never raises.

    Host bits may be set (``10.0.0.1/8`` is ``10.0.0.0/8``), as Go's ``net.ParseCIDR`` accepts them, and
    both Kubernetes (Service validation) and AWS read them so. A bare address without ``/len`` is not a
    CIDR: Kubernetes rejects it in ``loadBalancerSourceRanges`` and the controllers reject the annotation.
    An IPv4-mapped IPv6 range (``::ffff:0.0.0.0/96``) is read as the IPv4 range it maps, as Go's ``net``
    package reads it (``net.ParseCIDR("::ffff:0.0.0.0/96")`` prints as ``0.0.0.0/0``, which is what the in-tree
    provider writes into a security group). Reading it as IPv6 could hide a world-open range, so every input
    is judged this conservative way.
    """
    if not isinstance(text, str) or "/" not in text:
        return None
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(net, IPv6Net) and net.prefixlen >= 96 and net.subnet_of(_IPV4_MAPPED):
        mapped = net.network_address.ipv4_mapped
        if mapped is not None:
            return IPv4Net((int(mapped), net.prefixlen - 96))
    return net


def _within(inner: Network, outer: Network) -> bool:
    """``inner.subnet_of(outer)``, False across families (where ``subnet_of`` raises)."""
    if isinstance(inner, IPv4Net) and isinstance(outer, IPv4Net):
        return inner.subnet_of(outer)
    if isinstance(inner, IPv6Net) and isinstance(outer, IPv6Net):
        return inner.subnet_of(outer)
    return False


def _public_count(net: Network) -> int:
    """How many addresses of ``net`` are public (the public tables are disjoint CIDR blocks, so a block either
    holds ``net``, lies inside it, or misses it)."""
    public: tuple[Network, ...] = PUBLIC_V4 if isinstance(net, IPv4Net) else PUBLIC_V6
    total = 0
    for block in public:
        if _within(net, block):
            return net.num_addresses
        if _within(block, net):
            total += block.num_addresses
    return total


def judge(sources: Iterable[Source], *, unresolved: Iterable[str] = (), not_public: Iterable[str] = ()) -> Reachability:
    """Merge the admitted ranges per family and say how open they are (see the module docstring)."""
    valid: list[tuple[Source, Network]] = []
    invalid: list[Source] = []
    for source in sources:
        net = parse_cidr(source.cidr)
        if net is None:
            invalid.append(source)
        else:
            valid.append((source, net))
    v4 = tuple(ipaddress.collapse_addresses(n for _, n in valid if isinstance(n, IPv4Net)))
    v6 = tuple(ipaddress.collapse_addresses(n for _, n in valid if isinstance(n, IPv6Net)))
    public_v4 = sum(_public_count(n) for n in v4)
    public_v6 = sum(_public_count(n) for n in v6)
    missing = tuple(unresolved)
    if _WHOLE_V4 in v4 or _WHOLE_V6 in v6:
        openness = Openness.WORLD
    elif public_v4 > BROAD_IPV4 or public_v6 > BROAD_IPV6:
        openness = Openness.BROAD
    elif missing or invalid:
        openness = Openness.UNKNOWN
    else:
        openness = Openness.LIMITED
    return Reachability(
        openness=openness,
        ipv4=v4,
        ipv6=v6,
        public_ipv4=public_v4,
        public_ipv6=public_v6,
        sources=tuple(valid),
        invalid=tuple(invalid),
        unresolved=missing,
        not_public=tuple(not_public),
    )


# --------------------------------------------------------------------------- inputs: AWS security groups


def _ports(perm: SecurityGroupPermission) -> str:
    if perm.protocol == "-1":
        return "all traffic"
    if perm.from_port is None or perm.from_port == perm.to_port or perm.to_port is None:
        return f"{perm.protocol} {perm.from_port if perm.from_port is not None else 'all'}"
    return f"{perm.protocol} {perm.from_port}-{perm.to_port}"


def permission_admits(perm: SecurityGroupPermission, port: int, protocols: frozenset[str]) -> bool:
    """Whether an ingress permission applies to ``port`` over one of ``protocols`` ("-1" = every protocol)."""
    return (perm.protocol == "-1" or perm.protocol.lower() in protocols) and perm.covers_port(port)


def security_groups(
    groups: Iterable[SecurityGroup],
    port: int,
    protocols: frozenset[str],
    prefix_lists: Mapping[str, ManagedPrefixList],
) -> Admitted:
    """What a load balancer's security groups admit on ``port`` (a rule of any of them is enough: AWS
    evaluates the rules of every group on an interface together, https://docs.aws.amazon.com/vpc/latest/
    userguide/security-group-rules.html).

    ``prefix_lists`` maps a prefix list id to the collected list; one missing there, or with ``cidrs`` None,
    could not be read and is ``unresolved``. A referenced security group admits only traffic from network
    interfaces that carry that group, by their private addresses ("Security group referencing" in the page
    above), so it is not a public source.
    """
    admitted = Admitted()
    for sg in groups:
        for perm in sg.ingress:
            if not permission_admits(perm, port, protocols):
                continue
            where = f"security group {sg.id} {_ports(perm)}"
            admitted.add(perm.ipv4_ranges, where, security_group=sg.id, permission=perm)
            admitted.add(perm.ipv6_ranges, where, security_group=sg.id, permission=perm)
            for pl_id in perm.prefix_list_ids:
                pl = prefix_lists.get(pl_id)
                if pl is None or pl.cidrs is None:
                    admitted.unresolved.append(f"prefix list {pl_id} (in {where}) was not read")
                    continue
                name = f" {pl.name}" if pl.name else ""
                admitted.add(
                    pl.cidrs,
                    f"prefix list {pl_id}{name} in {where}",
                    security_group=sg.id,
                    permission=perm,
                    prefix_list=pl_id,
                )
            admitted.not_public.extend(f"security group {g} (in {where})" for g in perm.source_group_ids)
    return admitted


# --------------------------------------------------------------------------- inputs: Kubernetes

SERVICE_SOURCE_RANGES = "spec.loadBalancerSourceRanges"
SERVICE_DEFAULT = "default (no loadBalancerSourceRanges)"
INGRESS_DEFAULT = "default (no inbound-cidrs)"
_SERVICE_IP_ADDRESS_TYPE = SVC + "aws-load-balancer-ip-address-type"
_INGRESS_IP_ADDRESS_TYPE = ALB + "ip-address-type"
INBOUND_CIDRS = ALB + "inbound-cidrs"


def _split(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _defaults(dualstack: bool) -> list[str]:
    return ["0.0.0.0/0", "::/0"] if dualstack else ["0.0.0.0/0"]


def service_source_ranges(svc: Service, controller: str | None = None) -> tuple[Admitted, str]:
    """The ranges a LoadBalancer Service admits and where they come from.

    ``spec.loadBalancerSourceRanges`` first, else the ``service.beta.kubernetes.io/load-balancer-source-ranges``
    annotation, else everyone: "If spec.loadBalancerSourceRanges is not set, Kubernetes allows traffic from
    0.0.0.0/0" (https://kubernetes.io/docs/concepts/services-networking/service/#aws-nlb-support; also
    https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/#lb-source-ranges,
    which adds ::/0 for a dualstack load balancer). ``service.beta.kubernetes.io/aws-load-balancer-source-ranges``,
    seen in the wild, is read by neither controller, so it narrows nothing. Where the in-tree provider (``controller``)
    refuses the annotation, what the load balancer admits is not known from the cluster: unresolved.
    """
    admitted = Admitted()
    if svc.load_balancer_source_ranges:
        admitted.add(svc.load_balancer_source_ranges, SERVICE_SOURCE_RANGES)
        return admitted, SERVICE_SOURCE_RANGES
    if source_ranges_refused(svc, controller):
        admitted.unresolved.append(
            f"{SOURCE_RANGES} has an empty entry, so the in-tree provider refused it and kept what it applied before"
        )
        return admitted, SOURCE_RANGES
    # a value of only commas and spaces is no value: the AWS Load Balancer Controller drops empty entries and then
    # admits its default (ParseStringSliceAnnotation); read as "no range" it would pass a world-open port
    cidrs = _split(svc.annotations.get(SOURCE_RANGES) or "")
    if cidrs:
        admitted.add(cidrs, SOURCE_RANGES)
        return admitted, SOURCE_RANGES
    origin = SERVICE_DEFAULT
    admitted.add(_defaults(svc.annotations.get(_SERVICE_IP_ADDRESS_TYPE) == "dualstack"), origin)
    return admitted, origin


GATEWAY_SOURCE_RANGES = "LoadBalancerConfiguration spec.sourceRanges"
GATEWAY_DEFAULT = "the controller's default for a Gateway without spec.sourceRanges (0.0.0.0/0)"


def gateway_source_ranges(spec: Mapping[str, Any] | None) -> tuple[Admitted, str]:
    """The ranges a Gateway's LoadBalancerConfiguration asks the controller to admit: ``spec.sourceRanges``, which
    "defaults to 0.0.0.0/0 and ::/0" (the controller's API, apis/gateway/v1/loadbalancerconfig_types.go;
    https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/loadbalancerconfig/)."""
    admitted = Admitted()
    ranges = (spec or {}).get("sourceRanges")
    if isinstance(ranges, list) and ranges:
        admitted.add([str(r) for r in ranges], GATEWAY_SOURCE_RANGES)
        return admitted, GATEWAY_SOURCE_RANGES
    admitted.add(
        _defaults((spec or {}).get("ipAddressType") in ("dualstack", "dualstack-without-public-ipv4")), GATEWAY_DEFAULT
    )
    return admitted, GATEWAY_DEFAULT


def ingress_inbound_cidrs(settings: IngressSettings, annotations: Mapping[str, str]) -> tuple[Admitted, str]:
    """The ranges an ALB Ingress asks the controller to admit (into the load balancer's managed security group).

    IngressClassParams ``spec.inboundCIDRs`` wins over the ``alb.ingress.kubernetes.io/inbound-cidrs``
    annotation; without either the controller admits 0.0.0.0/0 (and ::/0 when dualstack)
    (https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#inbound-cidrs,
    .../guide/ingress/ingress_class/#specinboundcidrs). The settings hold the parsed value; entries the
    annotation parser rejected come back here as invalid, so they are judged, not dropped.
    """
    admitted = Admitted()
    origin = settings.inbound_cidrs_from
    if origin is not None:
        admitted.add(settings.inbound_cidrs, origin)
    if origin == INBOUND_CIDRS:
        rejected = {p.value for p in settings.problems if p.annotation == INBOUND_CIDRS}
        for value in rejected:
            admitted.add([c for c in _split(value) if parse_cidr(c) is None], origin)
    if origin is None or not admitted.sources:  # an empty value is no value
        origin = INGRESS_DEFAULT
        admitted.add(_defaults(annotations.get(_INGRESS_IP_ADDRESS_TYPE) == "dualstack"), origin)
    return admitted, origin


__all__ = [
    "BROAD_IPV4",
    "BROAD_IPV6",
    "INBOUND_CIDRS",
    "INGRESS_DEFAULT",
    "PUBLIC_V4",
    "PUBLIC_V6",
    "SERVICE_DEFAULT",
    "SERVICE_SOURCE_RANGES",
    "Admitted",
    "Openness",
    "Reachability",
    "Source",
    "ingress_inbound_cidrs",
    "judge",
    "parse_cidr",
    "permission_admits",
    "security_groups",
    "service_source_ranges",
]
