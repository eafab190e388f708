"""Writes the template scripts/deploy hands to `sam deploy`: template.yaml with each function's code pointing at the
bootstrap `cargo lambda build` made for it (one build of the workspace for all the functions, instead of SAM's
build per function), for one architecture.

Usage: deploy-template.py TEMPLATE LAMBDA_DIR OUT.json (run with the SAM venv's Python: scripts/lib/venv sam)."""

import json
import os
import sys

from samcli.yamlhelper import yaml_parse

template, lambda_dir, out = sys.argv[1:4]
with open(template, encoding="utf-8") as f:
    sam = yaml_parse(f.read())
for name, resource in sam["Resources"].items():
    if resource.get("Type") != "AWS::Serverless::Function":
        continue
    binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    if not binary:
        sys.exit(f"deploy-template: function {name} names no Binary under Metadata.BuildProperties")
    code = os.path.join(lambda_dir, binary)
    if not os.path.isfile(os.path.join(code, "bootstrap")):
        sys.exit(f"deploy-template: no {code}/bootstrap: was it built?")
    resource["Properties"]["CodeUri"] = os.path.abspath(code)
    # Built already: SAM only zips and uploads it.
    resource.pop("Metadata", None)
with open(out, "w", encoding="utf-8") as f:
    json.dump(sam, f, indent=1)
