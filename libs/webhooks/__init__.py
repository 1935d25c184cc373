"""Customer webhooks: signing (X-AmCore-Signature) and verification."""
