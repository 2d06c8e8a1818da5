"""fargate_platform.lambdas."""
