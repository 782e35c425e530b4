"""Host-process Lambda executor (LAMBDA_RUNTIME_EXECUTOR=recoflow-host)."""
