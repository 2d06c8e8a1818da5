"""fargate_platform.resolvers."""
