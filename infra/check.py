#!/usr/bin/env python3
"""Checks the Kubernetes deployment in infra/kubernetes/ without a cluster.

- Built-in kinds (Namespace, Secret, Service, StatefulSet, Deployment, CronJob, Ingress,
  NetworkPolicy) against Kubernetes' own OpenAPI schemas, strictly (unknown fields refused),
  with kubernetes-validate.
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
- Redis: every Redis URL of the runtime config carries a password; a Redis the
  URLs name here (through its Service) keeps its append-only settings and requires
  authentication, with every password from a Secret key that exists (the default user off
  or given a password, no user without one); the URLs sign in as one of its users with that
  Secret's password; a redis-cli probe authenticates and checks for PONG.
- NetworkPolicy: a default-deny for ingress in the deployment's namespace; Redis admits
  only the SpinApps' pods, and every SpinApp that uses it; each SpinApp admits only its
  callers the manifests name: the ingress controller's namespace (one, common to the apps
  the Ingress routes to), KEDA's namespace where KEDA reads its /v1/queue, and the ticker's
  and sweep's pods that call its /v1/tick, each of them on a port it listens on; every pod
  selector (and every label value it asks for) matches a pod of the deployment.

Usage: infra/check.py [FOLDER]   (default: infra/kubernetes; exits 1 on any problem)
"""

import glob
import json
import os
import re
import shlex
import sys
import tomllib
from urllib.parse import unquote, urlparse

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
# spin-operator v0.6 (pkg/spinapp, internal/controller): the labels of a SpinApp's pods and
# their one port.
SPINAPP_NAME_LABEL = "core.spinkube.dev/app-name"
SPINAPP_PORTS = {80, "http-app"}
# The label Kubernetes gives every namespace.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Redis configuration directives that may start a line of a shell script.
REDIS_DIRECTIVES = {"user", "requirepass", "appendonly", "appendfsync", "aclfile"}


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
    redis_urls = {}  # SpinApp -> [(store, url)]
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
                redis_urls[app] = runtime_redis_urls(text)
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

    keda_targets = set()  # SpinApps whose Service KEDA calls
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
            keda_targets.add(url_app(meta.get("url", "")))
            if meta.get("valueLocation") != "pending":
                problems.append(f"{where}: GET /v1/queue answers the depth in `pending`")
            auth = (trigger.get("authenticationRef") or {}).get("name")
            if auth not in auths:
                problems.append(f"{where}: no TriggerAuthentication named {auth!r}")

    callers = {}  # SpinApp -> the workloads (kind, name) that call its Service
    for name, doc in by_kind.get("Deployment", []) + by_kind.get("CronJob", []):
        for container in containers(doc):
            script = " ".join(container.get("args", []) + container.get("command", []))
            for word in script.split():
                if word.startswith("http://") or word.startswith("https://"):
                    problems.extend(f"{name}: {p}" for p in url_problems(word, apps, "/v1/tick"))
                    callers.setdefault(url_app(word), set()).add((doc["kind"], doc["metadata"]["name"]))

    routed = set()  # SpinApps the Ingress routes to
    for name, doc in by_kind.get("Ingress", []):
        for rule in doc.get("spec", {}).get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                service = path["backend"]["service"]["name"]
                routed.add(service)
                if service not in apps:
                    problems.append(f"{name}: Ingress routes to {service!r}, which is no SpinApp here")

    groups = pod_groups(by_kind, apps)
    redis = redis_workloads(by_kind, groups, redis_urls, problems)
    for key in sorted(redis):
        problems.extend(redis_auth_problems(key, groups[key], redis[key], secrets))
    namespaces = {doc["metadata"].get("namespace") for doc in apps.values()} or {None}
    problems.extend(network_policy_problems(
        by_kind.get("NetworkPolicy", []), sorted(namespaces, key=str)[0], groups, apps,
        routed & set(apps), callers, keda_targets & set(apps), redis,
    ))
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
            urls.setdefault(redis_database(store["url"]), []).append(label)
    # Spin's Redis store keeps a store's keys without a namespace.
    for database, labels in urls.items():
        if len(labels) > 1:
            problems.append(f"stores {' and '.join(labels)} share the Redis database {database}")
    # Redis answers anyone who reaches it unless it requires a password.
    for label, url in runtime_redis_urls(text):
        if not urlparse(url).password:
            problems.append(
                f"store {label!r}: the Redis URL carries no password "
                "(redis://<user>:<password>@host:port/db)"
            )
    return problems


def redis_database(url):
    """The server and database a Redis URL names, without its credentials."""
    parsed = urlparse(url)
    try:
        port = parsed.port or 6379
    except ValueError:
        port = "?"
    return f"{parsed.hostname}:{port}/{parsed.path.strip('/') or '0'}"


def runtime_redis_urls(text):
    """(store, URL) for every store of the runtime config on Redis."""
    try:
        stores = tomllib.loads(text).get("key_value_store", {})
    except tomllib.TOMLDecodeError:
        return []
    return [
        (label, str(store.get("url", "")))
        for label, store in sorted(stores.items())
        if isinstance(store, dict) and store.get("type") == "redis"
    ]


def url_app(url):
    """The SpinApp whose Service a URL names (its host's first label)."""
    return (urlparse(url).hostname or "").split(".")[0]


def pod_groups(by_kind, apps):
    """The pods the deployment runs, by (kind, name): their labels, ports and containers."""
    groups = {}
    for app, doc in apps.items():
        labels = dict(doc.get("spec", {}).get("podLabels") or {})
        labels[SPINAPP_NAME_LABEL] = app
        labels[f"core.spinkube.dev/app.{app}.status"] = "ready"
        groups[("SpinApp", app)] = {"labels": labels, "ports": set(SPINAPP_PORTS), "containers": []}
    for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
        for _, doc in by_kind.get(kind, []):
            spec = doc.get("spec", {})
            template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
            ports = set()
            for container in containers(doc):
                for port in container.get("ports", []):
                    ports.add(port.get("containerPort"))
                    if port.get("name"):
                        ports.add(port["name"])
            groups[(kind, doc["metadata"]["name"])] = {
                "labels": (template.get("metadata") or {}).get("labels") or {},
                "ports": ports,
                "containers": containers(doc),
            }
    return groups


def show(key):
    return f"{key[0]} {key[1]}"


def selector_matches(selector, labels):
    """Whether a Kubernetes label selector selects these labels (an empty one selects all)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_values(selector):
    """Every (label, value) a selector asks for (matchLabels and In expressions)."""
    selector = selector or {}
    pairs = list((selector.get("matchLabels") or {}).items())
    for expr in selector.get("matchExpressions") or []:
        if expr.get("operator") == "In":
            pairs.extend((expr.get("key"), v) for v in expr.get("values") or [])
    return pairs


def redis_workloads(by_kind, groups, redis_urls, problems):
    """The Redis pods of the deployment, each with the runtime-config URLs that name it: the
    pods the Service of a URL's host selects, and any pod running a Redis image."""
    services = {doc["metadata"]["name"]: doc for _, doc in by_kind.get("Service", [])}
    redis = {
        key: []
        for key, group in groups.items()
        if any(c.get("image", "").split("/")[-1].startswith(("redis", "valkey")) for c in group["containers"])
    }
    for app, urls in sorted(redis_urls.items()):
        for label, url in urls:
            host = urlparse(url).hostname or ""
            parts = host.split(".")
            service = services.get(parts[0])
            if service is None or (len(parts) > 1 and parts[1] != service["metadata"].get("namespace")):
                if len(parts) == 1 or host.endswith((".svc", ".svc.cluster.local")):
                    problems.append(f"SpinApp {app}: store {label!r} is on {host}, which names no Service here")
                continue  # otherwise a Redis outside the cluster (a managed one)
            selector = {"matchLabels": service.get("spec", {}).get("selector") or {}}
            selected = [k for k, g in groups.items() if selector["matchLabels"] and selector_matches(selector, g["labels"])]
            if not selected:
                problems.append(f"SpinApp {app}: store {label!r} is on Service {parts[0]}, which selects no pods here")
            for key in selected:
                redis.setdefault(key, []).append((app, label, url))
    return redis


def redis_config(container):
    """Redis's configuration directives in a container's command line, or in the shell
    script it runs (lines such as `user default off`, as fed to `redis-server -`): a list of
    [directive, argument...], and whether a shell runs it (which expands $VAR, not $(VAR))."""
    argv = list(container.get("command", [])) + list(container.get("args", []))
    shell = "-c" in argv[:3]
    if shell:
        script = " ".join(argv[argv.index("-c") + 1:argv.index("-c") + 2])
        lines = []
        for line in script.splitlines():
            try:
                lines.append(shlex.split(line))
            except ValueError:
                lines.append(line.split())
    else:
        lines = [argv]
    directives = []
    for tokens in lines:
        current = None
        for i, token in enumerate(tokens):
            if token.startswith("--") and len(token) > 2:
                current = [token[2:]]
                directives.append(current)
            elif i == 0 and token in REDIS_DIRECTIVES:
                current = [token]
                directives.append(current)
            elif current is not None:
                current.append(token)
    return directives, shell


def variable_reference(value, shell):
    """The environment variable a value stands for: $VAR or ${VAR} in a shell script,
    $(VAR) (Kubernetes' expansion) in a plain command line; None for a literal."""
    pattern = r"\$\{(\w+)\}|\$(\w+)" if shell else r"\$\((\w+)\)"
    match = re.fullmatch(pattern, value)
    return next((g for g in match.groups() if g), None) if match else None


def redis_auth_problems(key, group, urls, secrets):
    """Redis requires authentication with passwords from Secrets, and the runtime config's
    URLs sign in with one of them."""
    where = show(key)
    problems = []
    for container in group["containers"]:
        directives, shell = redis_config(container)
        secret_env = {
            env["name"]: env["valueFrom"]["secretKeyRef"]
            for env in container.get("env", [])
            if (env.get("valueFrom") or {}).get("secretKeyRef")
        }
        config = {}
        for directive in directives:
            config.setdefault(directive[0], []).append(directive[1:])
        if ["yes"] not in config.get("appendonly", []) or ["everysec"] not in config.get("appendfsync", []):
            problems.append(f"{where}: Redis does not run with appendonly yes and appendfsync everysec")

        def secret_password(value, what):
            """The secretKeyRef behind a password, or a problem."""
            var = variable_reference(value, shell)
            if var is None:
                problems.append(f"{where}: the password of {what} is written into the manifest, not taken from a Secret")
            elif var not in secret_env:
                problems.append(f"{where}: the password of {what}, ${var}, is no environment variable from a Secret")
            else:
                return secret_env[var]
            return None

        # user -> the secretKeyRefs of its passwords; None for a user that is off.
        users = {}
        for rules in config.get("user", []):
            if not rules:
                continue
            name, rules = rules[0], rules[1:]
            enabled = "on" in rules and "off" not in rules
            if not enabled:
                users[name] = None
                continue
            if "nopass" in rules:
                problems.append(f"{where}: Redis user {name!r} needs no password (nopass)")
            refs = [secret_password(r[1:], f"Redis user {name!r}") for r in rules if r.startswith(">")]
            if any(r.startswith("#") for r in rules):
                problems.append(f"{where}: Redis user {name!r} has a password hash written into the manifest")
            if not refs and "nopass" not in rules:
                problems.append(f"{where}: Redis user {name!r} is on with no password")
            users[name] = [r for r in refs if r]
        for values in config.get("requirepass", []):
            ref = secret_password(values[0] if values else "", "requirepass")
            if "default" not in users:
                users["default"] = [ref] if ref else []
        if "aclfile" in config:
            problems.append(f"{where}: an aclfile is not checked here; give the users on the command line")
        if "default" not in users:
            problems.append(
                f"{where}: Redis requires no authentication (the default user is on without a "
                "password: turn it off, `user default off`, and give the gateway an ACL user)"
            )

        for app, label, url in urls:
            parsed = urlparse(url)
            user = unquote(parsed.username or "") or "default"
            if parsed.password is None:
                continue  # runtime_config_problems names it
            if users.get(user) is None:
                state = "is off" if user in users else "does not exist"
                problems.append(f"SpinApp {app}: store {label!r} signs in to {where} as {user!r}, which {state} there")
                continue
            known = [secrets.get(r["name"], {}).get(r["key"]) for r in users[user]]
            if known and all(v is not None for v in known) and unquote(parsed.password) not in known:
                refs = ", ".join(f"{r['name']}/{r['key']}" for r in users[user])
                problems.append(f"SpinApp {app}: store {label!r}: the password for {user!r} is not the one in Secret {refs}")

        for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
            command = " ".join(((container.get(probe_name) or {}).get("exec") or {}).get("command", []))
            if "redis-cli" not in command:
                continue
            if not any(re.search(r"\$\{?" + var + r"\b", command) for var in secret_env):
                problems.append(f"{where}: {probe_name} runs redis-cli without the password (REDISCLI_AUTH from a Secret)")
            if "default" in users and users["default"] is None and "--user" not in command:
                problems.append(f"{where}: {probe_name} runs redis-cli as the default user, which is off")
            if "PONG" not in command:
                problems.append(f"{where}: {probe_name}: redis-cli exits 0 on NOAUTH, so the probe must look for PONG")
    return problems


def network_policy_problems(policies, namespace, groups, apps, routed, callers, keda_targets, redis):
    """Default-deny for ingress, and each protected pod admits exactly its callers."""
    problems = []
    if not policies:
        return [f"no NetworkPolicy: every pod in {namespace} accepts connections from anywhere"]
    # pod group -> [(peer, ports, policy)]; a peer is ("pods", selector) in the namespace,
    # ("namespace", name) for one namespace named by its name label, or ("anyone", why).
    admits = {key: [] for key in groups}
    default_deny = False
    for file, doc in policies:
        name = doc["metadata"]["name"]
        where = f"{file}: NetworkPolicy {name}"
        spec = doc.get("spec", {})
        if doc["metadata"].get("namespace") != namespace:
            problems.append(f"{where}: is in namespace {doc['metadata'].get('namespace')!r}, not {namespace!r}")
            continue
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        selector = spec.get("podSelector") or {}
        selected = [k for k, g in groups.items() if selector_matches(selector, g["labels"])]
        problems.extend(selector_existence(where, "podSelector", selector, groups))
        if "Ingress" not in types:
            continue
        rules = spec.get("ingress") or []
        if not (selector.get("matchLabels") or selector.get("matchExpressions")) and not rules:
            default_deny = True
        listened = set().union(*(groups[k]["ports"] for k in selected)) if selected else set()
        for rule in rules:
            ports = None
            if rule.get("ports"):
                ports = set()
                for port in rule["ports"]:
                    value = port.get("port")
                    if value is None or port.get("endPort"):
                        ports = None  # every port, or a range: the pods' own ports
                        break
                    ports.add(value)
                    if value not in listened:
                        problems.append(f"{where}: admits port {value}, on which none of the pods it selects listens")
            peers = []
            if not rule.get("from"):
                peers.append(("anyone", "a rule with no `from`"))
            for peer in rule.get("from") or []:
                if "ipBlock" in peer:
                    peers.append(("anyone", f"ipBlock {peer['ipBlock'].get('cidr')}"))
                elif "namespaceSelector" in peer:
                    ns_selector = peer["namespaceSelector"] or {}
                    named = ns_selector.get("matchLabels") or {}
                    if set(named) == {NAMESPACE_NAME_LABEL} and not ns_selector.get("matchExpressions"):
                        if named[NAMESPACE_NAME_LABEL] == namespace:
                            pod_selector = peer.get("podSelector") or {}
                            problems.extend(selector_existence(where, "from.podSelector", pod_selector, groups))
                            peers.append(("pods", pod_selector))
                        else:
                            peers.append(("namespace", named[NAMESPACE_NAME_LABEL]))
                    else:
                        peers.append(("anyone", f"namespaces selected by {ns_selector or 'anything'}"))
                else:
                    pod_selector = peer.get("podSelector") or {}
                    problems.extend(selector_existence(where, "from.podSelector", pod_selector, groups))
                    peers.append(("pods", pod_selector))
            for key in selected:
                for peer in peers:
                    admits[key].append((peer, ports, name))
    if not default_deny:
        problems.append(
            f"no default-deny NetworkPolicy for ingress in {namespace} (podSelector {{}}, "
            "policyTypes [Ingress], no rules): pods no policy selects accept every connection"
        )

    def reaches(entry, port_set):
        _, ports, _ = entry
        return ports is None or bool(ports & port_set)

    def pods_of(selector):
        return [k for k, g in groups.items() if selector_matches(selector, g["labels"])]

    for key in sorted(redis):
        where = f"Redis ({show(key)})"
        entries = [e for e in admits[key] if reaches(e, groups[key]["ports"])]
        if not entries:
            problems.append(f"{where}: no NetworkPolicy admits the gateway's SpinApps")
        for (kind, what), _, policy in entries:
            if kind == "pods":
                asked = {v for k, v in selector_values(what) if k == SPINAPP_NAME_LABEL}
                others = [k for k in pods_of(what) if k[0] != "SpinApp"]
                if not asked or others:
                    problems.append(
                        f"{where}: NetworkPolicy {policy} admits pods selected by {what}, not only "
                        f"the gateway's SpinApps (select them by {SPINAPP_NAME_LABEL})"
                    )
            else:
                problems.append(f"{where}: NetworkPolicy {policy} admits {what if kind == 'anyone' else 'namespace ' + what}")
        for app in sorted({app for app, _, _ in redis[key]}):
            if not any(e[0][0] == "pods" and ("SpinApp", app) in pods_of(e[0][1]) for e in entries):
                problems.append(f"{where}: SpinApp {app} keeps its state there but no NetworkPolicy admits it")

    # The ingress controller's namespace: the one every SpinApp the Ingress routes to admits.
    admitted_namespaces = {
        app: {e[0][1] for e in admits[("SpinApp", app)] if e[0][0] == "namespace" and reaches(e, SPINAPP_PORTS)}
        for app in apps
    }
    ingress_namespaces = set.intersection(*(admitted_namespaces[a] for a in routed)) if routed else set()
    if routed and len(ingress_namespaces) != 1:
        problems.append(
            "the SpinApps the Ingress routes to (" + ", ".join(sorted(routed)) + ") must admit one "
            f"namespace in common, the ingress controller's; they share {sorted(ingress_namespaces) or 'none'}"
        )
    for app in sorted(apps):
        key = ("SpinApp", app)
        where = f"SpinApp {app}"
        app_callers = callers.get(app, set())
        entries = admits[key]
        for (kind, what), _, policy in entries:
            if kind == "anyone":
                problems.append(f"{where}: NetworkPolicy {policy} admits {what}")
            elif kind == "pods":
                strangers = [k for k in pods_of(what) if k not in app_callers]
                if not (what.get("matchLabels") or what.get("matchExpressions")):
                    problems.append(f"{where}: NetworkPolicy {policy} admits every pod of the namespace")
                elif strangers:
                    problems.append(
                        f"{where}: NetworkPolicy {policy} admits {', '.join(map(show, strangers))}, "
                        f"which {'do' if len(strangers) > 1 else 'does'} not call it"
                    )
        extra = admitted_namespaces[app] - (ingress_namespaces if app in routed else set())
        if app in keda_targets:
            if len(extra) > 1:
                problems.append(f"{where}: admits namespaces {sorted(extra)}; only KEDA's reads its /v1/queue")
            elif not extra:
                problems.append(f"{where}: KEDA reads its /v1/queue, but it admits no namespace for KEDA")
        elif extra:
            problems.append(
                f"{where}: admits namespace{'s' if len(extra) > 1 else ''} {', '.join(sorted(extra))}, "
                "which is neither the ingress controller's (of an app the Ingress routes to) nor KEDA's"
            )
        for caller in sorted(app_callers):
            if not any(e[0][0] == "pods" and caller in pods_of(e[0][1]) and reaches(e, SPINAPP_PORTS) for e in entries):
                problems.append(f"{where}: {show(caller)} calls it, but no NetworkPolicy admits it on port 80")
    return problems


def selector_existence(where, field, selector, groups):
    """A pod selector must select a pod of the deployment, and each label value it asks
    for must be one some pod carries (a SpinApp name, a workload template's label)."""
    problems = []
    if not any(selector_matches(selector, g["labels"]) for g in groups.values()):
        return [f"{where}: {field} {selector} matches no pod of the deployment"]
    for label, value in selector_values(selector):
        if not any(g["labels"].get(label) == value for g in groups.values()):
            problems.append(f"{where}: {field} asks for {label}={value}, which no pod of the deployment carries")
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
