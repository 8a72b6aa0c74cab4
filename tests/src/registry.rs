//! A real OCI registry (Debian's `docker-registry`, the CNCF distribution server) on a free
//! loopback port, in its own folder: where `spin registry push` puts the image that
//! SpinKube runs, so the suite can check that image as SpinKube receives it.

use crate::free_port;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Registry {
    child: Child,
    /// `localhost:<port>`, the host part of image references.
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry and waits until it answers. Panics if docker-registry is missing
    /// (`cargo xtask test` installs it).
    pub fn start() -> Registry {
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let port = free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    \
                     rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                    dir.path().join("data").display()
                ),
            )
            .expect("registry config");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("docker-registry is needed: apt-get install docker-registry (cargo xtask test does)");
            let address = format!("localhost:{port}");
            let answered = (0..100).any(|_| {
                if child.try_wait().ok().flatten().is_some() {
                    return false;
                }
                let ok =
                    crate::http::try_request("GET", &format!("http://{address}/v2/"), &[], None)
                        .is_ok_and(|r| r.status == 200);
                if !ok {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                ok
            });
            if answered {
                return Registry {
                    child,
                    address,
                    _dir: dir,
                };
            }
            // Most likely the port was taken between the probe and the bind.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start after five tries");
    }

    /// `spin registry push` of the application in `app` as `name:test`, with Spin's
    /// defaults (which compose each component's dependencies into it); returns the
    /// image reference. Plain HTTP (`--insecure`): the registry is on loopback.
    pub fn push(&self, app: &Path, name: &str) -> String {
        let reference = format!("{}/{name}:test", self.address);
        let output = Command::new(crate::runtime::spin_binary())
            .current_dir(app)
            .args(["registry", "push", "--insecure", "--cache-dir"])
            .arg(app.join(".spin-registry-cache"))
            .arg("--from")
            .arg(app.join("spin.toml"))
            .arg(&reference)
            .output()
            .expect("run spin registry push");
        assert!(
            output.status.success(),
            "spin registry push failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        reference
    }

    /// The Spin application (its locked form, as Spin and SpinKube's shim load it) inside
    /// the image `name:test`.
    pub fn locked_app(&self, name: &str) -> Value {
        let manifest = self.get(
            &format!("/v2/{name}/manifests/test"),
            "application/vnd.oci.image.manifest.v1+json",
        );
        let manifest: Value = serde_json::from_slice(&manifest).expect("an OCI manifest");
        let layer = manifest["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .find(|l| l["mediaType"] == "application/vnd.fermyon.spin.application.v1+config")
            .expect("the image carries a Spin application");
        let digest = layer["digest"].as_str().expect("digest");
        serde_json::from_slice(&self.get(&format!("/v2/{name}/blobs/{digest}"), "*/*"))
            .expect("a locked Spin application")
    }

    /// A document of the registry's API (manifests and the app's lock are JSON text).
    fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let response = crate::http::request(
            "GET",
            &format!("http://{}{path}", self.address),
            &[("accept", accept)],
            None,
        );
        assert_eq!(response.status, 200, "GET {path}: {}", response.body);
        response.body.into_bytes()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
