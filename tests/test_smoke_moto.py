"""The moto server fixture answers boto3 through AWS_ENDPOINT_URL, and our WAF gap filler works."""

import boto3


def test_wafv2_list_resources_for_web_acl_filled(aws):
    elbv2 = boto3.client("elbv2", region_name="eu-west-1")
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    lb = elbv2.create_load_balancer(Name="a", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    waf = boto3.client("wafv2", region_name="eu-west-1")
    acl = waf.create_web_acl(
        Name="acl",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"},
    )["Summary"]["ARN"]
    assert waf.list_resources_for_web_acl(WebACLArn=acl)["ResourceArns"] == []
    waf.associate_web_acl(WebACLArn=acl, ResourceArn=lb)
    assert waf.list_resources_for_web_acl(WebACLArn=acl)["ResourceArns"] == [lb]
