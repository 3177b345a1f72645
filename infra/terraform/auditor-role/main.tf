# IRSA role for the auditor's service account, with the generated least-privilege read-only policy.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}

variable "name" {
  type        = string
  default     = "eks-exposure-auditor"
  description = "Name of the IAM role and policy."
}

variable "oidc_provider_arn" {
  type        = string
  description = "ARN of the cluster's IAM OIDC provider (arn:aws:iam::<acct>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<ID>)."
}

variable "namespace" {
  type        = string
  default     = "eks-exposure-auditor"
  description = "Namespace the auditor runs in (deploy/)."
}

variable "service_account" {
  type        = string
  default     = "eks-exposure-auditor"
  description = "Service account the auditor runs as (deploy/)."
}

variable "assumable_role_arns" {
  type        = list(string)
  default     = []
  description = "Roles in other audited accounts the auditor may assume (audited-account-role module)."
}

locals {
  issuer = replace(var.oidc_provider_arn, "/^arn:[^:]+:iam::[0-9]+:oidc-provider\\//", "")
}

data "aws_iam_policy_document" "trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "auditor" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

resource "aws_iam_policy" "readonly" {
  name   = "${var.name}-readonly"
  policy = file("${path.module}/../../../iam/auditor-readonly.json")
}

resource "aws_iam_role_policy_attachment" "readonly" {
  role       = aws_iam_role.auditor.name
  policy_arn = aws_iam_policy.readonly.arn
}

data "aws_iam_policy_document" "assume_spokes" {
  count = length(var.assumable_role_arns) > 0 ? 1 : 0
  statement {
    effect    = "Allow"
    actions   = ["sts:AssumeRole"]
    resources = var.assumable_role_arns
  }
}

resource "aws_iam_role_policy" "assume_spokes" {
  count  = length(var.assumable_role_arns) > 0 ? 1 : 0
  name   = "assume-audited-account-roles"
  role   = aws_iam_role.auditor.id
  policy = data.aws_iam_policy_document.assume_spokes[0].json
}

output "role_arn" {
  value       = aws_iam_role.auditor.arn
  description = "Annotate the auditor's service account with eks.amazonaws.com/role-arn = this."
}
