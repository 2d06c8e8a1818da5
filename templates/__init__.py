"""fargate_platform.templates."""
