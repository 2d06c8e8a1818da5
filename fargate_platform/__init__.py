"""fargate-platform core: names, configuration model and commands.

Kept free of third-party imports: Lambda zips include this package's
`names` module next to the function code.
"""
