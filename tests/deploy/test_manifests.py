"""Offline validation of deploy/: every YAML file, every kustomization, both overlays rendered by
tests/deploy/kustomize.py (no kubectl, no cluster), and the Dockerfile."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("yaml", reason="PyYAML is missing: add pyyaml to requirements.in and requirements.lock")

from tests.deploy.kustomize import (
    Build,
    Resource,
    build,
    load_docs,
    pod_spec,
    read_kustomization,
    split_image,
    strategic_merge,
)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NAMESPACE = "agentmessage"

SERVICES = ("gateway", "accounts", "numbers", "compliance", "carrier", "outbound", "inbound", "carrier_sim")
"""Python modules run as `python -m services.<name>`; each is a Deployment named with dashes."""
DEV_ONLY = {"carrier_sim"}
USES_DB = {"accounts", "numbers", "compliance", "outbound", "inbound"}
USES_CARRIER = {"numbers", "outbound", "inbound", "carrier_sim"}
SCALED = ("gateway", "outbound")
"""Services with a HorizontalPodAutoscaler and a PodDisruptionBudget."""

PORT_SETTING = {"gateway": "AM_GATEWAY_PORT", "carrier_sim": "AM_SIM_PORT"}
"""The env var naming the port a service serves health on; AM_HTTP_PORT for the others."""
HEALTH_PATHS = {"carrier_sim": ("/carrier/v1/healthz", "/carrier/v1/healthz")}
"""(liveness, readiness); the simulator only has an unauthenticated health check under its API prefix."""
DEFAULT_HEALTH = ("/healthz", "/readyz")

EXTERNAL_SECRETS = {"am-pg-app", "am-carrier"}
"""Secrets referenced but not rendered in prod: made by CloudNativePG, or by the operator (README)."""
SENSITIVE_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|DATABASE_URL|API_KEY|PRIVATE_KEY)$", re.I)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
PLACEHOLDER = re.compile(r"^$|^<.*>$|REPLACE|CHANGE[-_]?ME", re.I)


def deployment_name(module: str) -> str:
    return module.replace("_", "-")


def expected_modules(overlay: str) -> set[str]:
    return set(SERVICES) if overlay == "dev" else set(SERVICES) - DEV_ONLY


@functools.cache
def render(overlay: str) -> Build:
    return build(DEPLOY / "overlays" / overlay)


@pytest.fixture(params=["dev", "prod"])
def overlay(request: pytest.FixtureRequest) -> tuple[str, Build]:
    return request.param, render(request.param)


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in DEPLOY.rglob("kustomization.yaml"))


def referenced_files() -> dict[str, set[Path]]:
    """Files named by some kustomization, by role: manifests, patches, helm values."""
    out: dict[str, set[Path]] = {"manifest": set(), "patch": set(), "values": set()}
    for d in kustomization_dirs():
        k = read_kustomization(d)
        for entry in k.get("resources") or []:
            if (d / entry).is_file():
                out["manifest"].add((d / entry).resolve())
        for patch in k.get("patches") or []:
            out["patch"].add((d / patch["path"]).resolve())
        for chart in k.get("helmCharts") or []:
            out["values"].add((d / chart["valuesFile"]).resolve())
    return out


def config(b: Build) -> dict[str, str]:
    data: dict[str, str] = b.get("ConfigMap", "am-config")["data"]
    return data


def deployments(b: Build) -> dict[str, Resource]:
    return {d["metadata"]["name"]: d for d in b.of_kind("Deployment")}


def platform_deployments(b: Build) -> dict[str, tuple[str, Resource]]:
    """module -> (module, Deployment) for the deployments of our own services."""
    by_name = deployments(b)
    return {m: (m, by_name[deployment_name(m)]) for m in SERVICES if deployment_name(m) in by_name}


def containers(deployment: Resource) -> list[dict[str, Any]]:
    spec = pod_spec(deployment)
    assert spec is not None
    return list(spec.get("containers") or [])


def resolved_env(b: Build, container: dict[str, Any]) -> dict[str, Any]:
    """Env as the pod sees it: literal strings, or ("secret", name, key) for secret references."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(b.get("ConfigMap", source["configMapRef"]["name"])["data"])
        elif "secretRef" in source:
            env["*" + source["secretRef"]["name"]] = ("secret", source["secretRef"]["name"], "*")
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "configMapKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = b.get("ConfigMap", ref["name"])["data"][ref["key"]]
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = ("secret", ref["name"], ref["key"])
        else:
            env[var["name"]] = ("other", var.get("valueFrom"))
    return env


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container.get("ports") or [] if p.get("name") == port]
    assert named, f"{container['name']}: no container port named {port!r}"
    return int(named[0])


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# -- files and kustomizations --------------------------------------------------------------------


def test_every_yaml_file_parses_and_names_its_objects() -> None:
    files = yaml_files()
    assert files, "deploy/ holds no YAML"
    refs = referenced_files()
    for path in files:
        docs = load_docs(path)
        assert docs, f"{path}: empty"
        if path.name == "kustomization.yaml":
            (k,) = docs
            assert str(k.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"), path
            assert k.get("kind") in {"Kustomization", "Component"}, path
            continue
        if path.resolve() in refs["values"]:
            assert all(isinstance(d, dict) for d in docs), f"{path}: helm values must be a mapping"
            continue
        for doc in docs:
            assert isinstance(doc, dict), f"{path}: a document is not a mapping"
            assert doc.get("apiVersion"), f"{path}: a document has no apiVersion"
            assert doc.get("kind"), f"{path}: a document has no kind"
            assert (doc.get("metadata") or {}).get("name"), (
                f"{path}: a {doc.get('kind')} has no metadata.name"
            )


def test_every_kustomization_path_exists() -> None:
    dirs = kustomization_dirs()
    assert (
        DEPLOY / "base" in dirs
        and DEPLOY / "overlays" / "dev" in dirs
        and DEPLOY / "overlays" / "prod" in dirs
    )
    for d in dirs:
        k = read_kustomization(d)
        for entry in k.get("resources") or []:
            target = d / entry
            assert target.exists(), f"{d}: resource {entry} does not exist"
            if target.is_dir():
                assert (target / "kustomization.yaml").is_file(), f"{d}: {entry} has no kustomization.yaml"
        for entry in k.get("components") or []:
            assert (d / entry / "kustomization.yaml").is_file(), f"{d}: component {entry} does not exist"
            assert read_kustomization(d / entry).get("kind") == "Component", (
                f"{d}: {entry} is not a Component"
            )
        for patch in k.get("patches") or []:
            assert (d / patch["path"]).is_file(), f"{d}: patch {patch['path']} does not exist"
        for chart in k.get("helmCharts") or []:
            assert (d / chart["valuesFile"]).is_file(), f"{d}: values {chart['valuesFile']} does not exist"


def test_no_manifest_is_left_out_of_every_kustomization() -> None:
    refs = referenced_files()
    used = refs["manifest"] | refs["patch"] | refs["values"]
    orphans = [p for p in yaml_files() if p.name != "kustomization.yaml" and p.resolve() not in used]
    assert not orphans, f"YAML files no kustomization lists: {orphans}"


def test_every_service_has_a_base_directory() -> None:
    for module in SERVICES:
        base = DEPLOY / "base" / deployment_name(module)
        for name in ("deployment.yaml", "service.yaml", "kustomization.yaml"):
            assert (base / name).is_file(), f"missing {base / name}"


# -- rendered overlays ---------------------------------------------------------------------------


def test_each_overlay_runs_exactly_its_services(overlay: tuple[str, Build]) -> None:
    name, b = overlay
    assert set(platform_deployments(b)) == expected_modules(name)
    assert set(deployments(b)) == {deployment_name(m) for m in expected_modules(name)}


def test_everything_lands_in_the_namespace(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    assert b.get("Namespace", NAMESPACE)
    for r in b.resources:
        if r["kind"] != "Namespace":
            assert r["metadata"].get("namespace") == NAMESPACE, f"{r['kind']}/{r['metadata']['name']}"


def test_containers_run_their_module_from_the_image_entrypoint(overlay: tuple[str, Build]) -> None:
    name, b = overlay
    for module, d in platform_deployments(b).values():
        for c in containers(d):
            assert "command" not in c, f"{module}: command would override the image ENTRYPOINT"
            assert c.get("args") == [f"services.{module}"], f"{module}: args {c.get('args')}"
            _, tag, digest = split_image(c["image"])
            assert tag or digest, f"{module}: image {c['image']} is not pinned by the overlay"
            if name == "prod":
                assert tag != "latest", f"{module}: prod must not run :latest"
        assert (REPO / "services" / module).is_dir(), f"services/{module} does not exist"


def test_probes_hit_health_and_readiness_on_the_served_port(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    for module, d in platform_deployments(b).values():
        live_path, ready_path = HEALTH_PATHS.get(module, DEFAULT_HEALTH)
        for c in containers(d):
            env = resolved_env(b, c)
            served = int(env[PORT_SETTING.get(module, "AM_HTTP_PORT")])
            for probe, path in (("livenessProbe", live_path), ("readinessProbe", ready_path)):
                get = (c.get(probe) or {}).get("httpGet")
                assert get, f"{module}: no {probe} httpGet"
                assert get["path"] == path, f"{module}: {probe} path {get['path']} != {path}"
                assert port_number(c, get["port"]) == served, f"{module}: {probe} port is not {served}"
            if "startupProbe" in c:
                assert port_number(c, c["startupProbe"]["httpGet"]["port"]) == served


def test_pods_are_hardened_and_bounded(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    for module, d in platform_deployments(b).values():
        spec = pod_spec(d)
        assert spec is not None
        assert spec.get("terminationGracePeriodSeconds", 30) >= 15, module
        pod_nonroot = (spec.get("securityContext") or {}).get("runAsNonRoot") is True
        for c in containers(d):
            sc = c.get("securityContext") or {}
            assert pod_nonroot or sc.get("runAsNonRoot") is True, f"{module}: runAsNonRoot not set"
            assert sc.get("readOnlyRootFilesystem") is True, f"{module}: root filesystem is writable"
            assert sc.get("allowPrivilegeEscalation") is False, f"{module}: privilege escalation allowed"
            assert "ALL" in (sc.get("capabilities") or {}).get("drop", []), f"{module}: capabilities kept"
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    assert (res.get(kind) or {}).get(what), f"{module}: no {kind}.{what}"


def test_services_get_their_settings_and_secrets_by_reference(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    cluster = b.of_kind("Cluster")[0]["metadata"]["name"]
    for module, d in platform_deployments(b).values():
        for c in containers(d):
            env = resolved_env(b, c)
            if module != "carrier_sim":
                for var in ("AM_ENV", "AM_NATS_URL", "AM_STREAM_REPLICAS", "AM_HTTP_HOST", "AM_LOG_LEVEL"):
                    assert isinstance(env.get(var), str), f"{module}: {var} missing"
            if module in USES_DB:
                assert env.get("AM_DATABASE_URL") == ("secret", f"{cluster}-app", "uri"), module
            if module in USES_CARRIER:
                for var in ("AM_SIM_API_TOKEN", "AM_SIM_CALLBACK_SECRET"):
                    ref = env.get(var)
                    assert isinstance(ref, tuple) and ref[0] == "secret", f"{module}: {var} not from a Secret"
            if module == "gateway":
                assert env["AM_GATEWAY_HOST"] == "0.0.0.0"
            elif module != "carrier_sim":
                assert env["AM_HTTP_HOST"] == "0.0.0.0", f"{module}: would listen on loopback only"


def test_environment_settings_per_overlay() -> None:
    dev, prod = config(render("dev")), config(render("prod"))
    assert (dev["AM_ENV"], dev["AM_STREAM_REPLICAS"]) == ("dev", "1")
    assert (prod["AM_ENV"], prod["AM_STREAM_REPLICAS"]) == ("prod", "3")
    assert dev["AM_SIM_URL"].startswith("http://carrier-sim:")
    assert "carrier-sim" not in prod["AM_SIM_URL"]


def test_replicas_and_autoscaling() -> None:
    for _, d in platform_deployments(render("dev")).values():
        assert d["spec"]["replicas"] == 1, d["metadata"]["name"]
    prod = render("prod")
    for module, d in platform_deployments(prod).values():
        assert d["spec"]["replicas"] >= 2, f"{module}: prod needs at least 2 replicas"
    for name in ("dev", "prod"):
        b = render(name)
        for module in SCALED:
            hpa = b.get("HorizontalPodAutoscaler", module)
            assert hpa["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": module,
            }
            assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
            if name == "prod":
                assert hpa["spec"]["minReplicas"] >= 2
            pdb = b.get("PodDisruptionBudget", module)
            labels = b.get("Deployment", module)["spec"]["template"]["metadata"]["labels"]
            assert selects(pdb["spec"]["selector"]["matchLabels"], labels)


def test_no_literal_secret_in_prod() -> None:
    prod = render("prod")
    for secret in prod.of_kind("Secret"):
        for key in ("data", "stringData"):
            for k, v in (secret.get(key) or {}).items():
                assert PLACEHOLDER.search(str(v)), f"Secret {secret['metadata']['name']}.{k} holds a value"
    for cm in prod.of_kind("ConfigMap"):
        for k, v in (cm.get("data") or {}).items():
            assert not SENSITIVE_NAME.search(k), f"ConfigMap {cm['metadata']['name']} holds {k}"
            assert not URL_WITH_PASSWORD.search(str(v)), (
                f"ConfigMap {cm['metadata']['name']}.{k} has a password"
            )
    for _, d in platform_deployments(prod).values():
        for c in containers(d):
            for var in c.get("env") or []:
                if SENSITIVE_NAME.search(var["name"]):
                    assert "secretKeyRef" in var.get("valueFrom", {}), f"{var['name']} is not from a Secret"


def test_every_secret_reference_resolves(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    rendered = {s["metadata"]["name"] for s in b.of_kind("Secret")}
    cluster_secrets = {f"{c['metadata']['name']}-app" for c in b.of_kind("Cluster")}
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for _, d in platform_deployments(b).values():
        for c in containers(d):
            for value in resolved_env(b, c).values():
                if isinstance(value, tuple) and value[0] == "secret":
                    name = value[1]
                    assert name in rendered | cluster_secrets | EXTERNAL_SECRETS, f"unknown Secret {name}"
                    if name not in rendered | cluster_secrets:
                        assert name in readme, f"README must say how Secret {name} is made"


def test_services_ports_and_selectors_match(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    deps = deployments(b)
    for svc in b.of_kind("Service"):
        name = svc["metadata"]["name"]
        targets = [
            d
            for d in deps.values()
            if selects(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert targets, f"Service {name} selects no Deployment"
        for port in svc["spec"]["ports"]:
            for d in targets:
                assert any(port_number(c, port["targetPort"]) for c in containers(d))
    for module, d in platform_deployments(b).values():
        assert deployment_name(module) in {s["metadata"]["name"] for s in b.of_kind("Service")}, module
        ann = d["spec"]["template"]["metadata"].get("annotations") or {}
        if module == "carrier_sim":
            continue
        served = port_number(containers(d)[0], "http")
        assert ann.get("prometheus.io/scrape") == "true", f"{module}: not scraped"
        assert ann.get("prometheus.io/port") == str(served) and ann.get("prometheus.io/path") == "/metrics"


def test_only_the_gateway_takes_ingress_from_outside(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    policies = b.of_kind("NetworkPolicy")
    assert any(
        p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"]["policyTypes"]
        and not p["spec"].get("ingress")
        for p in policies
    ), "no default-deny ingress policy"
    for p in policies:
        selector = p["spec"]["podSelector"]
        for rule in p["spec"].get("ingress") or []:
            peers = rule.get("from") or []
            from_anywhere = not peers or any(
                "ipBlock" in peer or peer.get("namespaceSelector") == {} for peer in peers
            )
            if from_anywhere:
                assert selector == {"matchLabels": {"app.kubernetes.io/name": "gateway"}}, (
                    f"{p['metadata']['name']} opens non-gateway pods to everyone"
                )
            elif any("namespaceSelector" in peer for peer in peers):
                assert rule.get("ports"), f"{p['metadata']['name']}: other namespaces get every port"


def test_prod_ingress_serves_the_api_over_tls() -> None:
    prod = render("prod")
    (ingress,) = prod.of_kind("Ingress")
    assert any("api.agentmsg.io" in tls["hosts"] and tls.get("secretName") for tls in ingress["spec"]["tls"])
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "api.agentmsg.io"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    svc = prod.get("Service", backend["name"])
    assert backend["name"] == "gateway"
    assert backend["port"].get("name") in {p["name"] for p in svc["spec"]["ports"]}
    assert not render("dev").of_kind("Ingress")


def test_nats_is_a_clustered_jetstream_chart(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    (chart,) = [c for c in b.charts if c.name == "nats"]
    assert "nats-io" in chart.repo and re.fullmatch(r"\d+\.\d+\.\d+", chart.version), "pin the chart version"
    cfg = chart.values["config"]
    assert cfg["jetstream"]["enabled"] is True
    assert cfg["cluster"]["enabled"] is True and cfg["cluster"]["replicas"] == 3
    store = cfg["jetstream"]["fileStore"]
    assert store["enabled"] is True and store["pvc"]["enabled"] is True and store["pvc"]["size"]
    settings = config(b)
    assert settings["AM_NATS_URL"] == f"nats://{chart.release_name}.{chart.namespace}.svc:4222"
    assert chart.namespace == NAMESPACE
    assert int(settings["AM_STREAM_REPLICAS"]) <= cfg["cluster"]["replicas"]


def test_postgres_is_a_cloudnativepg_cluster(overlay: tuple[str, Build]) -> None:
    name, b = overlay
    (cluster,) = b.of_kind("Cluster")
    assert cluster["apiVersion"].startswith("postgresql.cnpg.io/")
    spec = cluster["spec"]
    assert spec["instances"] == (3 if name == "prod" else 1)
    assert spec["bootstrap"]["initdb"]["database"] == "agentmessage"
    assert "monitoring" in spec and spec["storage"]["size"]


def test_dockerfile_runs_the_modules() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = re.sub(r"\\\n", " ", text).splitlines()
    instructions = [
        [*ln.split(None, 1), ""][:2] for ln in lines if ln.strip() and not ln.lstrip().startswith("#")
    ]
    by_op: dict[str, list[str]] = {}
    for op, arg in instructions:
        by_op.setdefault(op.upper(), []).append(arg.strip())
    assert by_op["FROM"][-1].startswith("python:3.11-slim")
    assert json.loads(by_op["ENTRYPOINT"][-1]) == ["python", "-m"]
    cmd = json.loads(by_op["CMD"][-1])
    assert len(cmd) == 1 and cmd[0].removeprefix("services.") in SERVICES, cmd
    user = by_op["USER"][-1].split(":")[0]
    assert user not in {"root", "0"}, "the image must not run as root"
    run = " ".join(by_op["RUN"])
    assert "pip install -r requirements.lock" in run and "pip install --no-deps ." in run
    copied = " ".join(by_op["COPY"])
    for needed in ("requirements.lock", "pyproject.toml", "proto", "libs", "services"):
        assert needed in copied, f"Dockerfile does not copy {needed}"


# -- the resolver itself ---------------------------------------------------------------------------


def test_strategic_merge_merges_named_lists_and_deletes_nulls() -> None:
    base = {"spec": {"containers": [{"name": "a", "image": "x", "args": ["1"]}], "drop": 1}}
    patch = {"spec": {"containers": [{"name": "a", "image": "y"}, {"name": "b"}], "drop": None}}
    assert strategic_merge(base, patch) == {
        "spec": {"containers": [{"name": "a", "image": "y", "args": ["1"]}, {"name": "b"}]}
    }


def test_split_image_handles_registry_ports_and_digests() -> None:
    assert split_image("reg:5000/am/agentmessage:1.2@sha256:ab") == (
        "reg:5000/am/agentmessage",
        "1.2",
        "sha256:ab",
    )
    assert split_image("reg:5000/agentmessage") == ("reg:5000/agentmessage", None, None)
