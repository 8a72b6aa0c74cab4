//! Application variables as Spin resolves them: the manifest's defaults, overridden by
//! `SPIN_VARIABLE_<NAME>` environment variables; component variables are templates over
//! them (`"{{ name }}"`).

use crate::manifest::Manifest;
use anyhow::{Result, bail};
use std::collections::BTreeMap;

/// Resolved application variables.
#[derive(Debug, Clone, Default)]
pub struct AppVariables {
    values: BTreeMap<String, String>,
}

impl AppVariables {
    /// Resolves every declared variable; a required one with no value is an error that
    /// names it (Spin refuses to start too).
    pub fn resolve(
        manifest: &Manifest,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<AppVariables> {
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, decl) in &manifest.variables {
            let from_env = env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()));
            match from_env.or_else(|| decl.default.clone()) {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None if decl.required => missing.push(name.clone()),
                None => {}
            }
        }
        if !missing.is_empty() {
            bail!(
                "required variables have no value: {} (set SPIN_VARIABLE_<NAME>)",
                missing.join(", ")
            );
        }
        Ok(AppVariables { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Expands `{{ name }}` templates.
    pub fn expand(&self, template: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find("}}") else {
                bail!("unterminated template in {template:?}");
            };
            let name = rest[start + 2..start + end].trim();
            match self.get(name) {
                Some(value) => out.push_str(value),
                None => bail!("template refers to undefined variable {name:?}"),
            }
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "a"
[variables]
secret = { required = true, secret = true }
url = { default = "http://127.0.0.1:3000" }
"#,
        )
        .unwrap()
    }

    #[test]
    fn environment_overrides_defaults() {
        let vars = AppVariables::resolve(&manifest(), |name| match name {
            "SPIN_VARIABLE_SECRET" => Some("s3".into()),
            "SPIN_VARIABLE_URL" => Some("https://gw.example".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(vars.get("url"), Some("https://gw.example"));
        assert_eq!(
            vars.expand("{{ url }}/webhooks").unwrap(),
            "https://gw.example/webhooks"
        );
    }

    #[test]
    fn missing_required_variables_are_named() {
        let err = AppVariables::resolve(&manifest(), |_| None).unwrap_err();
        assert!(err.to_string().contains("secret"));
    }

    #[test]
    fn templates_with_unknown_variables_fail() {
        let vars = AppVariables::resolve(&manifest(), |_| Some("x".into())).unwrap();
        assert!(vars.expand("{{ nope }}").is_err());
        assert!(vars.expand("{{ url").is_err());
    }
}
