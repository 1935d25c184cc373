"""Service bootstrap shared by every service: connections, migrations, relay, health, shutdown."""
