"""Running the platform on one machine: a real PostgreSQL server and the local AWS emulator.

Importing this package stays cheap; each module imports what it needs.
"""
