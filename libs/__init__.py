"""Shared libraries: imported by services, never run, never importing a service."""
