"""What one firing sends: the target's Input with the context attributes the service fills in,
to a templated target (Step Functions StartExecution, Lambda Invoke), and the dead-letter
message to an SQS queue when the target cannot be reached.

The target's RoleArn is accepted as is: calls are made in the target's account (from its ARN),
with no role assumed and no permission checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from recoflow_localstack.emulation import aws_client, error_code


class TargetError(Exception):
    """A target call that failed; ``retryable`` False sends the event to the dead-letter queue
    at once (as EventBridge does for a missing resource or permission, or an unusable input)."""

    def __init__(self, code: str, message: str, retryable: bool = True):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


# errors a retry cannot cure
NOT_RETRYABLE = {
    "ResourceNotFoundException", "StateMachineDoesNotExist", "StateMachineDeleting", "InvalidArn",
    "InvalidExecutionInput", "InvalidName", "InvalidRequestContentException", "InvalidParameterValueException",
    "ValidationException", "AccessDeniedException", "AccessDenied",
}


def timestamp(instant: datetime) -> str:
    """``2022-03-22T18:59:43Z``: the service's format for scheduled times."""
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Invocation:
    schedule_arn: str
    scheduled_time: datetime
    execution_id: str
    attempt: int

    def render(self, template: str | None) -> str:
        """The target's Input (``{}`` when it has none) with the context attributes filled in."""
        text = template if template else "{}"
        for key, value in (
            ("<aws.scheduler.schedule-arn>", self.schedule_arn),
            ("<aws.scheduler.scheduled-time>", timestamp(self.scheduled_time)),
            ("<aws.scheduler.execution-id>", self.execution_id),
            ("<aws.scheduler.attempt-number>", str(self.attempt)),
        ):
            text = text.replace(key, value)
        return text


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise TargetError("InvalidArn", f"{arn!r} is not an ARN", retryable=False)
    return parts[2], parts[3], parts[4], parts[5]


def _call(operation, **kwargs) -> dict:
    try:
        return operation(**kwargs)
    except Exception as e:
        code = error_code(e) or type(e).__name__
        raise TargetError(code, str(e), retryable=code not in NOT_RETRYABLE) from None


def invoke(target: dict, payload: str) -> dict:
    """Calls the target with ``payload``; the part of the answer worth keeping, or TargetError."""
    arn = target.get("Arn") or ""
    service, region, account, resource = _arn_parts(arn)
    if service == "states" and resource.startswith("stateMachine:"):
        sfn = aws_client("stepfunctions", account, region)
        started = _call(sfn.start_execution, stateMachineArn=arn, input=payload)
        return {"executionArn": started["executionArn"]}
    if service == "lambda" and resource.startswith("function:"):
        lam = aws_client("lambda_", account, region)
        invoked = _call(lam.invoke, FunctionName=arn, InvocationType="Event", Payload=payload.encode())
        return {"StatusCode": invoked.get("StatusCode")}
    raise TargetError(
        "UnsupportedTarget",
        f"the local scheduler calls Step Functions state machines and Lambda functions only, not {arn}",
        retryable=False,
    )


def send_dead_letter(queue_arn: str, body: str, attributes: dict[str, str]) -> str:
    """Sends the dead-letter message; its MessageId, or TargetError."""
    service, region, account, name = _arn_parts(queue_arn)
    if service != "sqs":
        raise TargetError("InvalidArn", f"dead-letter queue {queue_arn} is not an SQS queue ARN", retryable=False)
    sqs = aws_client("sqs", account, region)
    url = _call(sqs.get_queue_url, QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    sent = _call(
        sqs.send_message, QueueUrl=url, MessageBody=body,
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )
    return sent["MessageId"]
