"""The admin-secret custom resource: the database admin password, kept in SSM."""
