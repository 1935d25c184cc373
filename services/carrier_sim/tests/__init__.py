"""Tests for the carrier simulator."""
