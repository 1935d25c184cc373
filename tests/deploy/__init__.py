"""Offline validation of the Kubernetes manifests in deploy/."""
