"""Customer webhooks: signing (X-AmCore-Signature) and verification, the callback URL rule, and the one
signed sender every service POSTs through (sender.py)."""
