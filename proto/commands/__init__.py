"""Commands and their results, per domain: the request/reply contracts between services."""
