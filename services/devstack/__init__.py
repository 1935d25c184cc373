"""devstack: `make run` — embedded NATS and PostgreSQL, every service and the carrier simulator as
supervised child processes on one machine."""
