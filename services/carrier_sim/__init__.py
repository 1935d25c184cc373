"""Carrier simulator: a stand-in for the upstream SMS carrier and The Campaign Registry."""
