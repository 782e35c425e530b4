"""recoflow's LocalStack extension (host mode, no Docker).

Plugins are found by LocalStack through the entry points declared in pyproject.toml.
"""
