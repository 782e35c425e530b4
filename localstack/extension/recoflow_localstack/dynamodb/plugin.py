"""DynamoDB provider that hands every operation to LocalStack's bundled moto backend.

LocalStack's own DynamoDB provider forwards to DynamoDB Local (a Java jar it downloads on first
use); that download is not possible on the development machines. moto implements the DynamoDB
API in-process, including ConditionExpression checks, TTL settings, Query and BatchWriteItem.
The provider class implements nothing itself: every operation raises NotImplementedError in the
generated API base class, and MotoFallbackDispatcher answers it from moto instead. In front of
that table, ``fault_injection.py`` throttles requests and holds back parts of batches when the
fault endpoint (/_recoflow/faults) asks for it; with the faults off it only passes requests on.
Selected with PROVIDER_OVERRIDE_DYNAMODB=recoflow_moto.
"""

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="dynamodb", name="recoflow_moto")
def dynamodb_recoflow_moto():
    from localstack.aws.api.dynamodb import DynamodbApi

    from recoflow_localstack.dynamodb.fault_injection import fault_injecting_moto_dispatch

    class RecoflowMotoDynamoDBProvider(DynamodbApi):
        pass

    return Service.for_provider(
        RecoflowMotoDynamoDBProvider(), dispatch_table_factory=fault_injecting_moto_dispatch
    )
