"""CloudFormation with the SAM transform on the host-mode LocalStack: a function with an implicit
REST API (AWS_PROXY), reached through /_aws/execute-api/{api_id}/{stage}/... .

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
