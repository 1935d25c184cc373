"""Pytest plugin: real NATS and PostgreSQL for every test session, isolated per test."""
