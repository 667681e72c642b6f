"""What tests/tests/it/deployment_template.rs needs from the Python deployment tools in .venv, as
JSON on stdout. Offline: SAM's translator needs a region name, never credentials.

  transform TEMPLATE [NAME=VALUE ...]  the CloudFormation SAM's transform makes of TEMPLATE
                                       (YAML, or JSON as scripts/test.sh writes it)
  replacing-properties TYPE            the properties whose change replaces a resource of TYPE,
                                       from the resource schema cfn-lint ships
  toml FILE                            a TOML file (samconfig.toml)
  yaml FILE                            a YAML file (the deploy workflow example)
  fullmatch PATTERN VALUE ...          whether each VALUE matches PATTERN whole, as an
                                       AllowedPattern must
"""

import json
import os
import re
import sys
import tomllib


def transform(template_path, overrides):
    # Before boto3 loads: the translator asks a boto3 session for the region.
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    from samtranslator.translator.transform import transform as sam_transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        # The template names no managed policy, so the translator never needs IAM's list.
        def load(self):
            return {}

    with open(template_path) as f:
        template = yaml_parse(f.read())
    # What `sam package` does before the transform: the code is in S3 by then.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"
    parameters = dict(o.split("=", 1) for o in overrides)
    return sam_transform(template, parameters, NoManagedPolicies())


def replacing_properties(resource_type):
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    pointers = schema.get("createOnlyProperties", []) + schema.get("conditionalCreateOnlyProperties", [])
    return sorted({p.removeprefix("/properties/").split("/")[0] for p in pointers})


def main(command, *args):
    if command == "transform":
        result = transform(args[0], args[1:])
    elif command == "replacing-properties":
        result = replacing_properties(args[0])
    elif command == "toml":
        with open(args[0], "rb") as f:
            result = tomllib.load(f)
    elif command == "yaml":
        import yaml

        with open(args[0]) as f:
            result = yaml.safe_load(f)
    elif command == "fullmatch":
        result = [re.fullmatch(args[0], value) is not None for value in args[1:]]
    else:
        sys.exit(f"unknown command {command}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
