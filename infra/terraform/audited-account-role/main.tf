# Read-only role in an audited account, assumable only by the auditor's role.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}

variable "name" {
  type        = string
  default     = "eks-exposure-auditor"
  description = "Name of the IAM role and policy in this account."
}

variable "auditor_role_arn" {
  type        = string
  description = "ARN of the auditor's own role (output role_arn of the auditor-role module)."
}

variable "external_id" {
  type        = string
  default     = ""
  description = "Optional ExternalId the auditor must present (targets file accounts[].external_id)."
}

data "aws_iam_policy_document" "trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.auditor_role_arn]
    }
    dynamic "condition" {
      for_each = var.external_id == "" ? [] : [var.external_id]
      content {
        test     = "StringEquals"
        variable = "sts:ExternalId"
        values   = [condition.value]
      }
    }
  }
}

resource "aws_iam_role" "audited" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

resource "aws_iam_policy" "readonly" {
  name   = "${var.name}-readonly"
  policy = file("${path.module}/../../../iam/auditor-readonly.json")
}

resource "aws_iam_role_policy_attachment" "readonly" {
  role       = aws_iam_role.audited.name
  policy_arn = aws_iam_policy.readonly.arn
}

output "role_arn" {
  value       = aws_iam_role.audited.arn
  description = "Put this in the targets file as accounts[].role_arn."
}
