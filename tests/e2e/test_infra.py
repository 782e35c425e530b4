"""The template and the state machine as AWS would judge them: cfn-lint on infra/template.yaml,
Step Functions' own validation of statemachines/job.asl.json, and least privilege (no data
action on every resource)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "template.yaml"
DEFINITION = REPO / "statemachines" / "job.asl.json"

# Actions that read or change data; none may apply to "*".
DATA_SERVICES = ("s3:", "dynamodb:", "sqs:", "ssm:GetParameter", "states:StartExecution", "states:StopExecution")
# Actions AWS offers no resource-level scope for (documented per service), or scoped by condition.
UNSCOPABLE = {
    "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "kms:Decrypt",
    "sagemaker:ListTrainingJobs", "sagemaker:ListProcessingJobs",
    "personalize:ListDatasetImportJobs", "personalize:ListSolutionVersions",
    "personalize:ListBatchInferenceJobs", "personalize:DescribeSolutionVersion",
}


def test_the_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def filled_definition() -> str:
    """The definition with its ${Placeholders} filled as the template fills them."""
    text = DEFINITION.read_text()
    return re.sub(
        r"\$\{(\w+)\}",
        lambda m: f"arn:aws:lambda:us-east-1:000000000000:function:{m.group(1)}" if m.group(1).endswith("Arn") else "3",
        text,
    )


def test_step_functions_accepts_the_state_machine(aws):
    sfn = aws("stepfunctions")
    answer = sfn.validate_state_machine_definition(definition=filled_definition(), type="STANDARD")
    assert answer["result"] == "OK", answer.get("diagnostics")
    # The check can fail: a state of no known type is refused.
    broken = json.loads(filled_definition())
    broken["States"]["Prepare"]["Type"] = "Taskk"
    answer = sfn.validate_state_machine_definition(definition=json.dumps(broken), type="STANDARD")
    assert answer["result"] == "FAIL"


def statements(template: dict):
    """(resource, action, resources) of every IAM statement in the template."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [p.get("PolicyDocument", {}) for p in properties.get("Policies", []) if isinstance(p, dict)]
        documents += [p for p in properties.get("Policies", []) if isinstance(p, dict) and "Statement" in p]
        for document in documents:
            for statement in document.get("Statement", []):
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                resources = statement.get("Resource", [])
                resources = resources if isinstance(resources, list) else [resources]
                for action in actions:
                    yield name, action, resources


def test_no_data_action_applies_to_every_resource():
    template, matches = decode_str(TEMPLATE.read_text())
    assert not matches, matches
    checked = 0
    for name, action, resources in statements(template):
        checked += 1
        assert "*" not in action.split(":")[-1] or action in UNSCOPABLE, f"{name}: wildcard action {action}"
        if "*" in resources and action not in UNSCOPABLE:
            pytest.fail(f"{name}: {action} on every resource")
        if action.startswith(DATA_SERVICES):
            assert resources and "*" not in resources, f"{name}: {action} must name its resources"
    assert checked > 50


def test_the_function_binaries_run_on_amazon_linux_2023():
    """The bootstraps this run deployed (make package checks its release zips the same way)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from check_packages import check_binary, glibc_versions

    binaries = sorted((REPO / "build" / "lambda").glob("*/bootstrap"))
    assert len(binaries) >= 7
    for binary in binaries:
        assert check_binary(binary.parent.name, binary) == []
        assert glibc_versions(binary), f"{binary} has no glibc symbols: is it the right file?"


def test_buckets_are_private_and_encrypted():
    template, _ = decode_str(TEMPLATE.read_text())
    buckets = {n: r for n, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"}
    assert len(buckets) == 3
    for name, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["BucketEncryption"], name
        block = properties["PublicAccessBlockConfiguration"]
        assert all(block[k] for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")), name
