"""The database bootstrap function: one role, database and credentials per service."""
