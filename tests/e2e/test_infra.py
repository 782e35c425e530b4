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
    "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "cloudwatch:GetMetricData", "kms:Decrypt",
    "sagemaker:ListTrainingJobs", "sagemaker:ListProcessingJobs",
    "personalize:ListDatasetImportJobs", "personalize:ListSolutionVersions",
    "personalize:ListBatchInferenceJobs", "personalize:DescribeSolutionVersion",
    # A callback names its task by the token alone (waking the head of a quota queue).
    "states:SendTaskSuccess",
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
    # Every bucket the stack makes; a new one must be named here, and is checked like these.
    assert set(buckets) == {"FormsBucket", "DataBucket", "ResultsBucket", "EventsBucket"}
    for name, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["BucketEncryption"], name
        block = properties["PublicAccessBlockConfiguration"]
        assert all(block[k] for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")), name


def nested_machines(state: dict) -> list:
    """The state machines inside a Map (its ItemProcessor) or a Parallel (its Branches)."""
    processor = state.get("ItemProcessor") or state.get("Iterator")
    return ([processor] if processor else []) + state.get("Branches", [])


def states_of(states: dict):
    """(name, state) of every state, those inside Maps and Parallels too."""
    for name, state in states.items():
        yield name, state
        for machine in nested_machines(state):
            yield from states_of(machine["States"])


def functions_called(state: dict, placeholder_functions: dict) -> set:
    """The template functions (logical ids) a state invokes: a Task's Resource, or for a Map or
    Parallel the Resources of the tasks inside it."""
    if state["Type"] == "Task":
        target = state["Resource"]
        if target.startswith("arn:aws:states:::lambda:invoke"):
            # The Lambda integration (a task token's wait): the function is a parameter.
            target = state["Parameters"]["FunctionName"]
        placeholder = target.rsplit("function:", 1)[-1]
        return {placeholder_functions.get(placeholder, placeholder)}
    return {
        function
        for machine in nested_machines(state)
        for _, inner in states_of(machine["States"])
        if inner["Type"] == "Task"
        for function in functions_called(inner, placeholder_functions)
    }


def state_function_problems(template: dict, definition: dict) -> list:
    """What is wrong with notify's STATE_FUNCTIONS: every state whose Catch notes it as the
    failed state (a Pass state setting $.failed_state on the way to Cleanup) must be listed with
    the function that state runs, and nothing else may be listed."""
    resources = template["Resources"]
    listed = resources["NotifyFunction"]["Properties"]["Environment"]["Variables"]["STATE_FUNCTIONS"]
    pairs = dict(pair.split("=", 1) for pair in listed["Fn::Sub"].split(","))
    listed_functions = {state: re.fullmatch(r"\$\{(\w+)\}", ref).group(1) for state, ref in pairs.items()}
    substitutions = resources["JobStateMachine"]["Properties"]["DefinitionSubstitutions"]
    placeholder_functions = {}
    for placeholder, value in substitutions.items():
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            placeholder_functions[placeholder] = target[0] if isinstance(target, list) else target.split(".")[0]
    problems, failed_states = [], set()
    for name, state in states_of(definition["States"]):
        for catch in state.get("Catch", []):
            note = definition["States"].get(catch["Next"], {})
            if note.get("Type") != "Pass" or note.get("ResultPath") != "$.failed_state":
                continue
            failed_state = note["Result"]
            failed_states.add(failed_state)
            called = functions_called(state, placeholder_functions)
            if failed_state not in listed_functions:
                problems.append(f"{name}: failed_state {failed_state} is not in STATE_FUNCTIONS")
            elif called != {listed_functions[failed_state]}:
                problems.append(
                    f"{name}: STATE_FUNCTIONS says {failed_state}={listed_functions[failed_state]}, the state calls {sorted(called)}"
                )
    problems += [f"STATE_FUNCTIONS lists {s}, which no Catch names" for s in sorted(set(listed_functions) - failed_states)]
    return problems


def test_notify_links_each_failed_state_to_the_function_it_runs():
    template, _ = decode_str(TEMPLATE.read_text())
    definition = json.loads(filled_definition())
    assert state_function_problems(template, definition) == []
    # The check can fail: Deliver calling the runner no longer matches its listed function.
    definition["States"]["Deliver"]["Resource"] = definition["States"]["Cleanup"]["Resource"]
    assert state_function_problems(template, definition) == [
        "Deliver: STATE_FUNCTIONS says Deliver=DeliverFunction, the state calls ['RunnerFunction']"
    ]
