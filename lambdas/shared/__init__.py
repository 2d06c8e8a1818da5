"""What every function's zip carries besides its own folder: the log, the AWS client,
the SecureString helpers both functions use and the custom-resource runtime."""
