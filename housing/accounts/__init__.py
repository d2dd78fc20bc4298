"""Users, roles, passwords and revocable tokens."""
