"""Wire contracts shared by every service: events, commands, API bodies, subjects and streams."""
