"""The service providers, one factory each (entry-point group ``localstack.aws.provider``, named
``<service>:<provider name>``), as LocalStack keeps its own in ``localstack/services/providers.py``.

LocalStack imports this module to list the providers at start-up; each factory imports its
provider only when the service is first used (LocalStack loads services lazily).
"""

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="dynamodb", name="recoflow_moto")
def dynamodb_recoflow_moto():
    """DynamoDB answered by LocalStack's bundled moto backend, behind the fault injection of
    ``dynamodb/fault_injection.py``. Selected with PROVIDER_OVERRIDE_DYNAMODB=recoflow_moto:
    LocalStack's own provider needs the DynamoDB Local jar, which cannot be downloaded here."""
    from localstack.aws.api.dynamodb import DynamodbApi

    from recoflow_localstack.dynamodb.fault_injection import fault_injecting_moto_dispatch

    class RecoflowMotoDynamoDBProvider(DynamodbApi):
        """Implements nothing: every operation raises NotImplementedError in the generated base
        class, and the moto fallback dispatcher answers it."""

    return Service.for_provider(
        RecoflowMotoDynamoDBProvider(), dispatch_table_factory=fault_injecting_moto_dispatch
    )


@aws_provider(api="scheduler", name="recoflow")
def scheduler_recoflow():
    """EventBridge Scheduler on moto (as LocalStack's own provider), with CreateSchedule and
    UpdateSchedule checked as the service checks them and the firing engine told of changes
    (``scheduler/``). Selected with PROVIDER_OVERRIDE_SCHEDULER=recoflow; the firing itself
    works with either provider, as both keep the schedules in moto."""
    from localstack.aws.api.scheduler import ValidationException
    from localstack.services.moto import MotoFallbackDispatcher

    from recoflow_localstack.emulation import emulator_dispatch_table
    from recoflow_localstack.scheduler.provider import SchedulerProvider

    return Service.for_provider(
        SchedulerProvider(),
        dispatch_table_factory=emulator_dispatch_table("scheduler", ValidationException, base=MotoFallbackDispatcher),
    )


# Personalize and SageMaker have no community provider: "default" loads them without PROVIDER_OVERRIDE_*.


@aws_provider(api="personalize", name="default")
def personalize_recoflow():
    from recoflow_localstack.emulation import emulator_dispatch_table
    from recoflow_localstack.personalize.provider import InvalidInputException, PersonalizeProvider

    return Service.for_provider(
        PersonalizeProvider(), dispatch_table_factory=emulator_dispatch_table("personalize", InvalidInputException)
    )


@aws_provider(api="sagemaker", name="default")
def sagemaker_recoflow():
    from recoflow_localstack.emulation import emulator_dispatch_table
    from recoflow_localstack.sagemaker.provider import SageMakerProvider, ValidationException

    return Service.for_provider(
        SageMakerProvider(), dispatch_table_factory=emulator_dispatch_table("sagemaker", ValidationException)
    )
