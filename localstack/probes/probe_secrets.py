"""8. Secrets Manager: API, and GenerateSecretString in CloudFormation."""

import json

from _common import aws, deploy_stack, report, stack_resources, unique

sm = aws("secretsmanager")
name = unique("probe/secret")
arn = sm.create_secret(Name=name, SecretString='{"hmac_key": "k1"}')["ARN"]
got = sm.get_secret_value(SecretId=name)
report(8, "CreateSecret / GetSecretValue by name", got["SecretString"] == '{"hmac_key": "k1"}',
       f"VersionStages {got['VersionStages']}")
sm.put_secret_value(SecretId=arn, SecretString='{"hmac_key": "k2"}')
prev = sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]
report(8, "PutSecretValue keeps AWSPREVIOUS (key rotation overlap)", prev == '{"hmac_key": "k1"}', prev)
rand = sm.get_random_password(PasswordLength=48, ExcludePunctuation=True)["RandomPassword"]
report(8, "GetRandomPassword", len(rand) == 48, f"{len(rand)} chars")

tpl = {"Resources": {
    "Plain": {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Name": unique("probe/cfn-plain"),
        "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}}},
    "Templated": {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Name": unique("probe/cfn-json"),
        "GenerateSecretString": {"SecretStringTemplate": '{"purpose": "recommendation-id"}',
                                 "GenerateStringKey": "hmac_key", "PasswordLength": 48,
                                 "ExcludeCharacters": "\"@/\\"}}}},
    "Outputs": {"Arn": {"Value": {"Ref": "Templated"}}}}
status, stack, reasons = deploy_stack(tpl)
report(8, "CloudFormation AWS::SecretsManager::Secret with GenerateSecretString", status == "CREATE_COMPLETE",
       f"{status} {reasons}")
if status == "CREATE_COMPLETE":
    res = stack_resources(stack)
    plain = sm.get_secret_value(SecretId=res["Plain"])["SecretString"]
    report(8, "generated plain secret", len(plain) == 64 and plain.isalnum(),
           f"{len(plain)} chars, alnum {plain.isalnum()}")
    doc = json.loads(sm.get_secret_value(SecretId=res["Templated"])["SecretString"])
    report(8, "generated JSON secret (template + GenerateStringKey)", len(doc.get("hmac_key", "")) == 48,
           {k: (v if k == "purpose" else f"<{len(v)} chars>") for k, v in doc.items()})
    report(8, "Ref of the secret", None, res["Templated"])
