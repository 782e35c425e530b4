"""DynamoDB served by LocalStack's bundled moto (PROVIDER_OVERRIDE_DYNAMODB=recoflow_moto)."""
