"""Entry point ``localstack.aws.provider`` -> ``sagemaker:default`` (only LocalStack Pro has one)."""

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="sagemaker", name="default")
def sagemaker_recoflow():
    from recoflow_localstack.emulation import emulator_dispatch_table
    from recoflow_localstack.faults import register_route
    from recoflow_localstack.sagemaker.provider import SageMakerProvider, ValidationException

    register_route()
    provider = SageMakerProvider()
    return Service.for_provider(provider, dispatch_table_factory=emulator_dispatch_table("sagemaker", ValidationException))
