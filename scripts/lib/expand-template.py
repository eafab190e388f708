"""Expands template.yaml's SAM resources into plain CloudFormation, as `sam deploy` has CloudFormation do, so tools
that know CloudFormation only (checkov) see the functions' roles and policies. Offline: no AWS call is made.

Usage: expand-template.py TEMPLATE OUT.json [--inline-code] (run with the SAM venv's Python: scripts/lib/venv sam).
With --inline-code, each function's code is a placeholder written into the template instead of an S3 location (for
deploying the template into the local emulator, which runs no function)."""

import json
import os
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    """The template names its managed policies by ARN (`!Ref`), so nothing needs looking up in IAM."""

    def load(self):
        return {}


template, out = sys.argv[1:3]
inline = "--inline-code" in sys.argv[3:]
with open(template, encoding="utf-8") as f:
    sam = yaml_parse(f.read())
# `sam package` uploads each function's code and writes its S3 location; a placeholder stands in for it.
for name, resource in sam["Resources"].items():
    if resource.get("Type") == "AWS::Serverless::Function":
        if inline:
            del resource["Properties"]["CodeUri"]
            resource["Properties"]["InlineCode"] = f"placeholder for {name}'s bootstrap"
        else:
            resource["Properties"]["CodeUri"] = f"s3://fsched-artifacts/{name}.zip"
# Placeholder values for the parameters without a default, as a deployer would give them.
parameters = {
    "ClusterArns": "arn:aws:ecs:eu-central-1:123456789012:cluster/data-platform",
    "TaskDefinitionArns": "arn:aws:ecs:eu-central-1:123456789012:task-definition/etl:*",
    "TaskRoleArns": "arn:aws:iam::123456789012:role/etl-task",
    "AWS::Region": "eu-central-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "fsched",
}
# The translator asks boto3 for the Region of ARNs it builds; the placeholder one, not the machine's configuration.
os.environ["AWS_DEFAULT_REGION"] = parameters["AWS::Region"]
expanded = transform(sam, parameters, NoManagedPolicies())
with open(out, "w", encoding="utf-8") as f:
    json.dump(expanded, f, indent=1, default=str)
