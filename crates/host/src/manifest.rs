//! The subset of Spin's application manifest (`spin_manifest_version = 2`) that the host
//! serves. Unknown keys are ignored, as Spin ignores what a trigger does not use; keys the
//! host relies on are checked at start so a broken manifest fails before serving.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Deserialize)]
pub struct Application {
    pub name: String,
}

/// An application variable: a default, or required; secrets are never logged.
#[derive(Debug, Clone, Deserialize)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpTrigger {
    pub route: Route,
    pub component: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Route {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Clone, Deserialize)]
pub struct ComponentDecl {
    pub source: String,
    #[serde(default)]
    pub files: Vec<FileMount>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, Dependency>,
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileMount {
    Directory { source: String, destination: String },
    Glob(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Dependency {
    pub path: String,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Manifest::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)?;
        if manifest.spin_manifest_version != 2 {
            bail!("spin_manifest_version must be 2");
        }
        for trigger in &manifest.trigger.http {
            if !manifest.component.contains_key(&trigger.component) {
                bail!(
                    "trigger names component {:?}, which is not declared",
                    trigger.component
                );
            }
            if let Route::Path(route) = &trigger.route
                && !route.starts_with('/')
            {
                bail!("route {route:?} must start with '/'");
            }
        }
        for (id, component) in &manifest.component {
            one_dependency_per_package(id, component)?;
        }
        Ok(manifest)
    }
}

/// Spin's composer registers each dependency of a component under the WIT package of its
/// import, so two dependencies from one package stop `spin up` ("package ... has already
/// been registered in the graph"). The host refuses the same manifests, so that an app it
/// serves is one Spin serves too.
fn one_dependency_per_package(id: &str, component: &ComponentDecl) -> Result<()> {
    let mut seen = BTreeMap::new();
    for import in component.dependencies.keys() {
        let package = dependency_package(import);
        if let Some(first) = seen.insert(package, import) {
            bail!(
                "component {id:?}: dependencies {first:?} and {import:?} come from one WIT \
                 package ({package}); Spin composes one dependency per package"
            );
        }
    }
    Ok(())
}

/// The `namespace:package` part of a dependency's key (`ns:pkg/interface@1.0.0`,
/// `ns:pkg@1.0.0` or `ns:pkg`).
fn dependency_package(import: &str) -> &str {
    let end = import.find(['/', '@']).unwrap_or(import.len());
    &import[..end]
}

/// Resolves a manifest-relative path.
pub fn resolve(base: &Path, relative: &str) -> PathBuf {
    base.join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
spin_manifest_version = 2
[application]
name = "app"
[variables]
key = { required = true, secret = true }
url = { default = "http://x" }
[[trigger.http]]
route = "/v1/..."
component = "api"
[[trigger.http]]
route = { private = true }
component = "cell"
[component.api]
source = "api.wasm"
files = [{ source = "policies", destination = "/policies" }]
key_value_stores = ["default"]
[component.api.variables]
key = "{{ key }}"
[component.api.dependencies]
"a:b/c@0.1.0" = { path = "dep.wasm" }
[component.cell]
source = "cell.wasm"
[component.cell.build]
command = "cargo build"
"#;

    #[test]
    fn parses_the_spin_shapes_the_host_uses() {
        let m = Manifest::parse(SAMPLE).unwrap();
        assert_eq!(m.trigger.http.len(), 2);
        assert!(matches!(
            m.trigger.http[1].route,
            Route::Private { private: true }
        ));
        let api = &m.component["api"];
        assert_eq!(api.dependencies["a:b/c@0.1.0"].path, "dep.wasm");
        assert!(
            matches!(&api.files[0], FileMount::Directory { destination, .. } if destination == "/policies")
        );
        assert!(m.variables["key"].secret);
    }

    #[test]
    fn refuses_triggers_without_components() {
        let broken = SAMPLE.replace("component = \"cell\"", "component = \"nope\"");
        assert!(Manifest::parse(&broken).is_err());
    }

    #[test]
    fn refuses_two_dependencies_from_one_package_as_spin_does() {
        let two = SAMPLE.replace(
            "\"a:b/c@0.1.0\" = { path = \"dep.wasm\" }",
            "\"a:b/c@0.1.0\" = { path = \"dep.wasm\" }\n\"a:b/d@0.1.0\" = { path = \"other.wasm\" }",
        );
        let error = format!("{:#}", Manifest::parse(&two).unwrap_err());
        assert!(error.contains("one WIT package (a:b)"), "{error}");
        let apart = two.replace("a:b/d@0.1.0", "a:e/d@0.1.0");
        assert_eq!(
            Manifest::parse(&apart).unwrap().component["api"]
                .dependencies
                .len(),
            2
        );
    }

    #[test]
    fn the_project_manifest_composes_on_spin() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
        Manifest::load(&root).expect("spin.toml is a manifest Spin composes");
    }
}
