"""Carrier adapters: the interface our services use to reach an upstream carrier/aggregator, and its
first implementation, which speaks HTTP to the carrier simulator. A real upstream (an HTTP aggregator,
SMPP) is one more adapter."""
