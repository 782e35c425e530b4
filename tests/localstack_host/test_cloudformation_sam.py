"""CloudFormation on the host-mode LocalStack: with the SAM transform, a function with an implicit
REST API (AWS_PROXY), reached through /_aws/execute-api/{api_id}/{stage}/... ; and a Scheduler
schedule the extension fires.

Run against a running stack:
    localstack/host/start.sh && .localstack-host/venv/bin/pytest tests/localstack_host
"""

import json
import urllib.request

from hostfn import bootstrap_zip, unique

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: s3://{bucket}/fn.zip
      Timeout: 5
      Events:
        Api:
          Type: Api
          Properties:
            Path: /hello/{{name}}
            Method: get
Outputs:
  ApiId:
    Value: !Ref ServerlessRestApi
"""


def test_sam_function_with_implicit_rest_api(aws, endpoint):
    s3, cfn = aws("s3"), aws("cloudformation")
    bucket, stack = unique("hostfn-sam"), unique("hostfn-sam")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=bootstrap_zip())
    cfn.create_stack(
        StackName=stack,
        TemplateBody=TEMPLATE.format(bucket=bucket),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        api_id = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiId")

        # SAM's implicit API is deployed to the stage "Prod"
        url = f"{endpoint}/_aws/execute-api/{api_id}/Prod/hello/ana"
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.loads(resp.read())
        assert body == {"path": "/hello/ana", "method": "GET", "pid": body["pid"]}
    finally:
        cfn.delete_stack(StackName=stack)
        cfn.get_waiter("stack_delete_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        s3.delete_object(Bucket=bucket, Key="fn.zip")
        s3.delete_bucket(Bucket=bucket)


SCHEDULE_TEMPLATE = """
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: arn:aws:iam::000000000000:role/scheduler
      DefinitionString: '{{"StartAt": "Done", "States": {{"Done": {{"Type": "Pass", "End": true}}}}}}'
  Group:
    Type: AWS::Scheduler::ScheduleGroup
    Properties:
      Name: {group}
  Nightly:
    Type: AWS::Scheduler::Schedule
    Properties:
      GroupName: !Ref Group
      ScheduleExpression: cron(0 3 ? * MON *)
      ScheduleExpressionTimezone: America/New_York
      FlexibleTimeWindow: {{Mode: "OFF"}}
      Target:
        Arn: !Ref Machine
        RoleArn: arn:aws:iam::000000000000:role/scheduler
        Input: '{{"fired": "<aws.scheduler.scheduled-time>"}}'
Outputs:
  Machine:
    Value: !Ref Machine
  Schedule:
    Value: !GetAtt Nightly.Arn
"""


def test_a_schedule_made_by_cloudformation_fires(aws, endpoint):
    """The extension fires what CloudFormation stores (recoflow_localstack/scheduler/)."""
    cfn, sfn = aws("cloudformation"), aws("stepfunctions")
    stack, group = unique("schedule"), unique("group")
    cfn.create_stack(StackName=stack, TemplateBody=SCHEDULE_TEMPLATE.format(group=group))
    try:
        cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
        request = urllib.request.Request(f"{endpoint}/_recoflow/scheduler/fire", method="POST",
                                         data=json.dumps({"schedule_arn": outputs["Schedule"]}).encode())
        with urllib.request.urlopen(request, timeout=30) as resp:
            firing = json.load(resp)["firing"]
        assert firing["outcome"] == "SUCCEEDED", firing
        # Monday 03:00 in New York: 07:00 or 08:00 UTC depending on the season
        assert firing["scheduled_time"][11:] in ("07:00:00Z", "08:00:00Z")
        execution = sfn.describe_execution(executionArn=firing["attempts"][0]["response"]["executionArn"])
        assert execution["stateMachineArn"] == outputs["Machine"]
        assert json.loads(execution["input"]) == {"fired": firing["scheduled_time"]}
    finally:
        cfn.delete_stack(StackName=stack)
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
