#!/usr/bin/env python3
"""Checks the Kubernetes deployment in infra/kubernetes/ without a cluster.

- Built-in kinds (Namespace, Secret, Service, StatefulSet, Deployment, CronJob, Ingress)
  against Kubernetes' own OpenAPI schemas, strictly (unknown fields refused), with
  kubernetes-validate.
- SpinApp (spin-operator), ScaledObject and TriggerAuthentication (KEDA): there is no
  cluster or CRD here to validate them against, so their fields are checked against the
  fields those CRDs define (copied by hand below; keep them in step when upgrading), and
  against the rest of the deployment and the app:
  every component a SpinApp runs exists in spin.toml; an app serving callers or providers
  carries the cells it hands work to (spin.internal works only inside one app); every
  variable bound exists in spin.toml, every required one is bound; every Secret key
  referred to exists; the runtime config parses and puts both stores on Redis; KEDA scales
  an autoscaled SpinApp on GET /v1/queue; the ticker and the Ingress reach existing apps
  through routes the app serves.

Usage: infra/check.py [FOLDER]   (default: infra/kubernetes; exits 1 on any problem)
"""

import glob
import json
import os
import sys
import tomllib
from urllib.parse import urlparse

import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KUBERNETES_VERSION = "1.32.0"

# spin-operator v0.6's SpinApp spec (config/crd/bases/core.spinkube.dev_spinapps.yaml).
SPINAPP_SPEC_FIELDS = {
    "checks", "components", "deploymentAnnotations", "enableAutoscaling", "executor",
    "image", "imagePullSecrets", "invocationLimits", "podAnnotations", "podLabels",
    "replicas", "resources", "runtimeConfig", "serviceAccountName", "serviceAnnotations",
    "variables", "volumeMounts", "volumes",
}
SPINAPP_RUNTIME_CONFIG_FIELDS = {"keyValueStores", "llmCompute", "loadFromSecret", "sqliteDatabases"}
SPINAPP_PROBE_FIELDS = {"failureThreshold", "httpGet", "initialDelaySeconds", "periodSeconds",
                        "successThreshold", "timeoutSeconds"}
# KEDA v2 (keda.sh/v1alpha1).
SCALEDOBJECT_SPEC_FIELDS = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
    "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced",
    "triggers",
}
METRICS_API_FIELDS = {"url", "format", "valueLocation", "targetValue",
                      "activationTargetValue", "authMode", "unsafeSsl"}
# Components whose requests hand work on to others over *.spin.internal.
ENTRY_COMPONENTS = {"ingress", "webhook-inbound"}


def spin_manifest():
    with open(os.path.join(ROOT, "spin.toml"), "rb") as f:
        return tomllib.load(f)


def served_paths():
    with open(os.path.join(ROOT, "components/ingress/openapi.json")) as f:
        return set(json.load(f)["paths"])


def load(folder):
    """(file name, document) for every YAML document, and the files that do not parse."""
    docs, problems = [], []
    for path in sorted(glob.glob(os.path.join(folder, "*.yaml"))):
        with open(path) as f:
            try:
                docs.extend((os.path.basename(path), d) for d in yaml.safe_load_all(f) if d)
            except yaml.YAMLError as e:
                problems.append(f"{os.path.basename(path)}: not YAML: {e}")
    return docs, problems


def check(folder):
    docs, problems = load(folder)
    if not docs:
        return problems + [f"no manifests in {folder}"]
    manifest = spin_manifest()
    components = set(manifest["component"])
    cells = {c for c in components if c.startswith("deliver-")} | {"notifier"}
    variables = manifest["variables"]
    required = {name for name, v in variables.items() if v.get("required")}
    by_kind = {}
    for name, doc in docs:
        by_kind.setdefault(doc.get("kind"), []).append((name, doc))

    secrets = {}
    for name, doc in by_kind.get("Secret", []):
        data = dict(doc.get("stringData") or {})
        data.update(doc.get("data") or {})
        secrets[doc["metadata"]["name"]] = data

    def secret_key(where, ref):
        if ref.get("name") not in secrets:
            problems.append(f"{where}: no Secret named {ref.get('name')!r}")
        elif ref.get("key") not in secrets[ref["name"]]:
            problems.append(f"{where}: Secret {ref['name']!r} has no key {ref.get('key')!r}")

    for name, doc in docs:
        kind = doc.get("kind")
        where = f"{name}: {kind} {doc.get('metadata', {}).get('name')}"
        if kind in ("SpinApp", "ScaledObject", "TriggerAuthentication"):
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{where}: {e.message} at {'.'.join(map(str, e.path))}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: not a Kubernetes {KUBERNETES_VERSION} kind")
        for container in containers(doc):
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    secret_key(where, ref)

    apps = {}
    for name, doc in by_kind.get("SpinApp", []):
        app = doc["metadata"]["name"]
        where = f"{name}: SpinApp {app}"
        apps[app] = doc
        spec = doc.get("spec", {})
        if doc.get("apiVersion") != "core.spinkube.dev/v1alpha1":
            problems.append(f"{where}: apiVersion must be core.spinkube.dev/v1alpha1")
        for field in set(spec) - SPINAPP_SPEC_FIELDS:
            problems.append(f"{where}: spec.{field} is not a SpinApp field")
        if not spec.get("image"):
            problems.append(f"{where}: spec.image is missing")
        if spec.get("enableAutoscaling") and "replicas" in spec:
            problems.append(f"{where}: replicas cannot be set with enableAutoscaling")
        runs = set(spec.get("components") or components)
        for missing in sorted(runs - components):
            problems.append(f"{where}: component {missing!r} is not in spin.toml")
        if runs & ENTRY_COMPONENTS:
            for cell in sorted((cells & components) - runs):
                problems.append(f"{where}: serves requests but lacks {cell!r}, which they hand work to")
        runtime = spec.get("runtimeConfig") or {}
        for field in set(runtime) - SPINAPP_RUNTIME_CONFIG_FIELDS:
            problems.append(f"{where}: runtimeConfig.{field} is not a SpinApp field")
        source = runtime.get("loadFromSecret")
        if not source:
            problems.append(f"{where}: no runtime config (the stores would be per pod)")
        else:
            secret_key(where, {"name": source, "key": "runtime-config.toml"})
            text = secrets.get(source, {}).get("runtime-config.toml")
            if text is not None:
                problems.extend(f"{where}: {p}" for p in runtime_config_problems(text))
        for probe_name, probe in (spec.get("checks") or {}).items():
            for field in set(probe) - SPINAPP_PROBE_FIELDS:
                problems.append(f"{where}: checks.{probe_name}.{field} is not a SpinApp field")
            path = (probe.get("httpGet") or {}).get("path")
            if path and path not in served_paths():
                problems.append(f"{where}: checks.{probe_name} asks {path}, which ingress does not serve")
        bound = set()
        for var in spec.get("variables", []):
            if var["name"] not in variables:
                problems.append(f"{where}: variable {var['name']!r} is not in spin.toml")
            if var["name"] in bound:
                problems.append(f"{where}: variable {var['name']!r} bound twice")
            bound.add(var["name"])
            ref = (var.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                secret_key(where, ref)
            elif variables.get(var["name"], {}).get("secret"):
                problems.append(f"{where}: secret variable {var['name']!r} has a plain value")
        for missing in sorted(required - bound):
            problems.append(f"{where}: required variable {missing!r} is not bound")
        # The shim runs Spin's own Redis store, whose get-many and swap need the store
        # layer's workarounds (ARCHITECTURE.md).
        workarounds = next(
            (v.get("value", "") for v in spec.get("variables", []) if v["name"] == "key_value_workarounds"),
            "",
        )
        if "spin-redis" not in [w.strip() for w in workarounds.split(",")]:
            problems.append(f"{where}: key_value_workarounds does not include spin-redis (Spin's Redis store)")

    auths = {doc["metadata"]["name"]: doc for _, doc in by_kind.get("TriggerAuthentication", [])}
    for name, doc in by_kind.get("TriggerAuthentication", []):
        for ref in doc.get("spec", {}).get("secretTargetRef", []):
            secret_key(f"{name}: TriggerAuthentication", ref)
    for name, doc in by_kind.get("ScaledObject", []):
        where = f"{name}: ScaledObject {doc['metadata']['name']}"
        spec = doc.get("spec", {})
        for field in set(spec) - SCALEDOBJECT_SPEC_FIELDS:
            problems.append(f"{where}: spec.{field} is not a ScaledObject field")
        target = spec.get("scaleTargetRef", {}).get("name")
        if target not in apps:
            problems.append(f"{where}: scales {target!r}, which is no SpinApp here")
        elif not apps[target]["spec"].get("enableAutoscaling"):
            problems.append(f"{where}: {target} does not leave its replicas to an autoscaler")
        if spec.get("minReplicaCount", 0) != 0:
            problems.append(f"{where}: does not scale to zero")
        for trigger in spec.get("triggers", []):
            if trigger.get("type") != "metrics-api":
                continue
            meta = trigger.get("metadata", {})
            for field in set(meta) - METRICS_API_FIELDS:
                problems.append(f"{where}: metrics-api has no field {field!r}")
            problems.extend(f"{where}: {p}" for p in url_problems(meta.get("url", ""), apps, "/v1/queue"))
            if meta.get("valueLocation") != "pending":
                problems.append(f"{where}: GET /v1/queue answers the depth in `pending`")
            auth = (trigger.get("authenticationRef") or {}).get("name")
            if auth not in auths:
                problems.append(f"{where}: no TriggerAuthentication named {auth!r}")

    for name, doc in by_kind.get("Deployment", []) + by_kind.get("CronJob", []):
        for container in containers(doc):
            script = " ".join(container.get("args", []) + container.get("command", []))
            for word in script.split():
                if word.startswith("http://") or word.startswith("https://"):
                    problems.extend(f"{name}: {p}" for p in url_problems(word, apps, "/v1/tick"))

    for name, doc in by_kind.get("Ingress", []):
        for rule in doc.get("spec", {}).get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                service = path["backend"]["service"]["name"]
                if service not in apps:
                    problems.append(f"{name}: Ingress routes to {service!r}, which is no SpinApp here")
    return problems


def containers(doc):
    spec = doc.get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
    return (template.get("spec") or {}).get("containers", [])


def url_problems(url, apps, path):
    parsed = urlparse(url)
    host = (parsed.hostname or "").split(".")[0]
    problems = []
    if host not in apps:
        problems.append(f"{url} names no SpinApp's Service")
    if parsed.path != path:
        problems.append(f"{url} is not {path}")
    elif path not in served_paths():
        problems.append(f"{path} is not served by ingress")
    elif host in apps and "ingress" not in (apps[host]["spec"].get("components") or ["ingress"]):
        problems.append(f"{url}: {host} does not run ingress, which serves {path}")
    return problems


def runtime_config_problems(text):
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return [f"the runtime config is not TOML: {e}"]
    problems = []
    stores = config.get("key_value_store", {})
    urls = {}
    for label in ("default", "pending"):
        store = stores.get(label)
        if not store or store.get("type") != "redis" or not str(store.get("url", "")).startswith(("redis://", "rediss://")):
            problems.append(f"the runtime config does not put store {label!r} on Redis")
        else:
            urls.setdefault(store["url"], []).append(label)
    # Spin's Redis store keeps a store's keys without a namespace.
    for url, labels in urls.items():
        if len(labels) > 1:
            problems.append(f"stores {' and '.join(labels)} share the Redis database {url}")
    return problems


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "infra/kubernetes")
    problems = check(folder)
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)
    print(f"{len(load(folder)[0])} manifests checked")


if __name__ == "__main__":
    main()
