"""amctl: the operator and developer CLI (events, streams, and the public API from the terminal)."""
