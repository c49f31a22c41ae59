"""Who is calling: API keys, request signatures and roles."""
