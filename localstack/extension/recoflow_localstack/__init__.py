"""recoflow's LocalStack extension (host mode, no Docker).

LocalStack finds its pieces through the entry points in pyproject.toml: the extension
(``extension.py``, run on community LocalStack by ``extension_loader.py``), the service
providers (``providers.py``) and the Lambda executor (``lambda_host/executor.py``).
"""
