"""Entry point ``localstack.aws.provider`` -> ``personalize:default`` (community LocalStack has none)."""

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="personalize", name="default")
def personalize_recoflow():
    from recoflow_localstack.emulation import emulator_dispatch_table
    from recoflow_localstack.faults import register_route
    from recoflow_localstack.personalize.provider import InvalidInputException, PersonalizeProvider

    register_route()  # in case the on_infra_start hook did not run
    provider = PersonalizeProvider()
    return Service.for_provider(provider, dispatch_table_factory=emulator_dispatch_table("personalize", InvalidInputException))
