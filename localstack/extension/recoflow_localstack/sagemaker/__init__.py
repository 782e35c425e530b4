"""Local Amazon SageMaker training and processing jobs, run as host processes, for recoflow."""
