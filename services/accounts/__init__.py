"""accounts: organizations, users, API keys (hashed) and the prepaid credit ledger."""
