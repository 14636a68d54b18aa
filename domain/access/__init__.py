"""People and access: users, role grants, guide assignments and API keys."""
