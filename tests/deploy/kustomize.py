"""A small offline stand-in for `kustomize build`: only the features deploy/ uses, strictly.

Follows `resources` (files and kustomization directories) and `components` recursively and applies,
in kustomize's order, `patches` (strategic-merge patch files), `namespace`, `namePrefix`, `replicas`
and `images`. `helmCharts` cannot be inflated offline (no helm), so they are collected with their
values for the tests to inspect. Any other kustomization field raises, so a manifest change that this
resolver would silently misread fails the tests instead.

Strategic merge is simplified: maps merge recursively, a null deletes a key, lists of maps that all
carry `name` merge item by item on it (containers, env, ports, volumes...), other lists are replaced.
A patch document must match exactly one resource by kind and metadata.name.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZE_API = "kustomize.config.k8s.io/"
KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "metadata",
    "namespace",
    "namePrefix",
    "resources",
    "components",
    "patches",
    "replicas",
    "images",
    "helmCharts",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "ClusterIssuer",
}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

Resource = dict[str, Any]


class KustomizeError(ValueError):
    """The kustomization cannot be resolved (missing path, unknown field, unmatched patch...)."""


@dataclass
class HelmChart:
    name: str
    repo: str
    version: str
    release_name: str
    namespace: str
    values: dict[str, Any]
    declared_in: Path


@dataclass
class Build:
    resources: list[Resource] = field(default_factory=list)
    charts: list[HelmChart] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.get("kind") == kind]

    def get(self, kind: str, name: str) -> Resource:
        found = [r for r in self.of_kind(kind) if r["metadata"]["name"] == name]
        if len(found) != 1:
            raise KeyError(f"{kind}/{name}: {len(found)} found")
        return found[0]


def load_docs(path: Path) -> list[Any]:
    """Every non-empty YAML document of a file."""
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def read_kustomization(directory: Path) -> dict[str, Any]:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    docs = load_docs(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise KustomizeError(f"{path}: must hold exactly one mapping")
    k: dict[str, Any] = docs[0]
    if not str(k.get("apiVersion", "")).startswith(KUSTOMIZE_API):
        raise KustomizeError(f"{path}: apiVersion must be {KUSTOMIZE_API}*")
    unknown = set(k) - KNOWN_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: fields this resolver does not implement: {sorted(unknown)}")
    return k


def build(directory: Path) -> Build:
    """Render the kustomization in `directory` (a Kustomization, not a Component)."""
    return _build(directory.resolve(), expect="Kustomization")


def _build(directory: Path, expect: str) -> Build:
    k = read_kustomization(directory)
    if k.get("kind", "Kustomization") != expect:
        raise KustomizeError(f"{directory}: expected kind {expect}, got {k.get('kind')}")
    acc = Build()
    _accumulate(directory, k, acc)
    return acc


def _accumulate(directory: Path, k: dict[str, Any], acc: Build) -> None:
    """Add k's resources and charts to acc, run its components, then its transformers."""
    for entry in k.get("resources") or []:
        path = directory / entry
        if path.is_dir():
            sub = _build(path.resolve(), expect="Kustomization")
            acc.resources.extend(sub.resources)
            acc.charts.extend(sub.charts)
        elif path.is_file():
            for doc in load_docs(path):
                if not isinstance(doc, dict):
                    raise KustomizeError(f"{path}: a document is not a mapping")
                acc.resources.append(doc)
        else:
            raise KustomizeError(f"{directory}: resource {entry!r} does not exist")
    for chart in k.get("helmCharts") or []:
        values_path = directory / chart["valuesFile"]
        if not values_path.is_file():
            raise KustomizeError(f"{directory}: valuesFile {chart['valuesFile']!r} does not exist")
        (values,) = load_docs(values_path)
        acc.charts.append(
            HelmChart(
                name=chart["name"],
                repo=chart["repo"],
                version=str(chart["version"]),
                release_name=chart["releaseName"],
                namespace=chart.get("namespace", ""),
                values=values,
                declared_in=directory,
            )
        )
    for entry in k.get("components") or []:
        path = (directory / entry).resolve()
        component = read_kustomization(path)
        if component.get("kind") != "Component":
            raise KustomizeError(f"{path}: listed as a component but its kind is {component.get('kind')}")
        _accumulate(path, component, acc)
    _transform(directory, k, acc)


def _transform(directory: Path, k: dict[str, Any], acc: Build) -> None:
    for patch in k.get("patches") or []:
        if set(patch) != {"path"}:
            raise KustomizeError(f"{directory}: only `patches: - path: <file>` is supported, got {patch}")
        path = directory / patch["path"]
        if not path.is_file():
            raise KustomizeError(f"{directory}: patch {patch['path']!r} does not exist")
        for doc in load_docs(path):
            _apply_patch(acc, doc, path)
    if "namespace" in k:
        for r in acc.resources:
            if r["kind"] not in CLUSTER_SCOPED:
                r["metadata"]["namespace"] = k["namespace"]
    if "namePrefix" in k:
        for r in acc.resources:
            if r["kind"] != "Namespace":
                r["metadata"]["name"] = k["namePrefix"] + r["metadata"]["name"]
    for rep in k.get("replicas") or []:
        targets = [r for r in acc.resources if r["kind"] in SCALABLE and r["metadata"]["name"] == rep["name"]]
        if not targets:
            raise KustomizeError(f"{directory}: replicas for unknown workload {rep['name']!r}")
        for r in targets:
            r["spec"]["replicas"] = int(rep["count"])
    for image in k.get("images") or []:
        for container in iter_containers(acc.resources):
            container["image"] = _retag(container["image"], image)


def _apply_patch(acc: Build, patch: Resource, source: Path) -> None:
    kind, name = patch.get("kind"), (patch.get("metadata") or {}).get("name")
    matches = [i for i, r in enumerate(acc.resources) if r["kind"] == kind and r["metadata"]["name"] == name]
    if len(matches) != 1:
        raise KustomizeError(f"{source}: patch for {kind}/{name} matches {len(matches)} resources")
    (i,) = matches
    if patch.get("$patch") == "delete":
        del acc.resources[i]
        return
    acc.resources[i] = strategic_merge(acc.resources[i], patch)


def strategic_merge(base: Any, patch: Any) -> Any:
    """The simplified strategic merge described in the module docstring."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        out_list = copy.deepcopy(base)
        index = {item["name"]: n for n, item in enumerate(out_list)}
        for item in patch:
            if item["name"] in index:
                out_list[index[item["name"]]] = strategic_merge(out_list[index[item["name"]]], item)
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """`registry:5000/repo/name:tag@sha256:...` -> (name, tag, digest)."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    name, tag = ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    return name, tag, digest


def _retag(ref: str, image: dict[str, Any]) -> str:
    name, tag, digest = split_image(ref)
    if name != image["name"]:
        return ref
    name = image.get("newName", name)
    if "newTag" in image:
        tag = str(image["newTag"])
    if "digest" in image:
        digest, tag = image["digest"], None
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    kind = resource.get("kind")
    if kind in POD_TEMPLATE_KINDS:
        spec: dict[str, Any] = resource["spec"]["template"]["spec"]
        return spec
    if kind == "CronJob":
        cron: dict[str, Any] = resource["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return cron
    if kind == "Pod":
        pod: dict[str, Any] = resource["spec"]
        return pod
    return None


def iter_containers(resources: list[Resource]) -> Iterator[dict[str, Any]]:
    for r in resources:
        spec = pod_spec(r)
        if spec is not None:
            yield from spec.get("initContainers") or []
            yield from spec.get("containers") or []
