"""Local Amazon Personalize control plane (dataset groups .. batch inference) for recoflow."""
