"""fargate_platform.hooks."""
