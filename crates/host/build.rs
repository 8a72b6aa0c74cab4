//! Copies the WIT of the Spin interfaces the host implements (key-value, variables, and
//! `wasi:keyvalue` store and atomics as Spin offers them) out of
//! the spin-sdk crate, where Spin publishes it, into `wit/deps/` (ignored by git), so the
//! host's bindings are generated from exactly the WIT the components were built against.

use std::path::{Path, PathBuf};

const SPIN_SDK_DIR: &str = "spin-sdk-7.0.0";
const PACKAGES: &[&str] = &[
    "spin-key-value@3.0.0",
    "spin-variables@3.0.0",
    "wasi-keyvalue-2024-10-17",
];

fn registry_sources() -> Vec<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME must be set");
    let src = cargo_home.join("registry").join("src");
    std::fs::read_dir(&src)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join(SPIN_SDK_DIR))
                .collect()
        })
        .unwrap_or_default()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let sdk = registry_sources()
        .into_iter()
        .find(|p| p.join("wit").is_dir())
        .unwrap_or_else(|| panic!("{SPIN_SDK_DIR} not found in the cargo registry; it is a build-dependency, so `cargo fetch` brings it"));
    let deps = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("wit")
        .join("deps");
    for package in PACKAGES {
        let from = sdk.join("wit").join("deps").join(package);
        let to = deps.join(package);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
