//! The Kubernetes deployment in infra/kubernetes/, checked without a cluster by
//! infra/check.py: built-in kinds against Kubernetes' schemas, SpinApp and KEDA objects
//! against their CRDs' fields and against the app (components, variables, secrets,
//! routes), Redis's authentication and the NetworkPolicies. A broken copy must be refused,
//! naming what is wrong.

use integration_tests::{python, workspace_root};
use std::process::Command;

fn check(folder: &std::path::Path) -> (bool, String) {
    let out = Command::new(python())
        .arg(workspace_root().join("infra/check.py"))
        .arg(folder)
        .output()
        .expect("the test tools' Python runs infra/check.py");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_deployment_is_consistent_with_the_app_and_the_schemas() {
    let (ok, text) = check(&workspace_root().join("infra/kubernetes"));
    assert!(ok, "{text}");
    assert!(text.contains("manifests checked"), "{text}");
}

#[test]
fn a_broken_deployment_is_refused_with_its_problems_named() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(workspace_root().join("infra/kubernetes")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let broken = match path.file_name().unwrap().to_str().unwrap() {
            // A cell left out of the app that hands work to it.
            "spinapp-api.yaml" => text.replacen("    - deliver-sms\n", "", 1),
            // KEDA scaling an app that keeps its own replica count.
            "spinapp-dispatch.yaml" => text.replace("enableAutoscaling: true", "replicas: 1"),
            // A misspelt field of a built-in kind.
            "redis.yaml" => text.replace("readinessProbe:", "readinesProbe:"),
            // Spin's Redis store without the store layer's workarounds.
            "spinapp-webhooks.yaml" => text.replace("value: spin-redis", "value: \"\""),
            // Two stores in one Redis database, where Spin keeps keys without a namespace,
            // and a store whose Redis URL has no password.
            "secrets.example.yaml" => {
                text.replace("6379/1", "6379/0")
                    .replacen("messaging:<redis-password>@", "", 1)
            }
            // No default-deny: pods no policy selects would accept every connection.
            "networkpolicy.yaml" => text.replacen(
                "  podSelector: {}\n",
                "  podSelector: {matchLabels: {app.kubernetes.io/name: messaging-ticker}}\n",
                1,
            ),
            _ => text,
        };
        std::fs::write(dir.path().join(path.file_name().unwrap()), broken).unwrap();
    }
    let (ok, text) = check(dir.path());
    assert!(!ok, "{text}");
    for expected in [
        "messaging-api: serves requests but lacks 'deliver-sms'",
        "messaging-dispatch does not leave its replicas to an autoscaler",
        "'readinesProbe' was unexpected",
        "messaging-webhooks: key_value_workarounds does not include spin-redis",
        "stores default and pending share the Redis database",
        "store 'default': the Redis URL carries no password",
        "no default-deny NetworkPolicy for ingress in messaging",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
}
