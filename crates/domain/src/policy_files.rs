//! The whole `policies/` folder checked at once: every policy, template and the inbound
//! routes, and the names they give each other. The gateway runs this when it starts
//! (policy-router's `check`, behind ingress's `GET /health`) and the test suite runs it on
//! the shipped files, so a broken file is found before any request meets it.

use crate::inbound_routes::InboundRoutes;
use crate::policy::Policy;
use crate::template::Template;
use std::collections::BTreeSet;
use std::path::Path;

/// The policy a request that names none goes out under.
pub const DEFAULT_POLICY: &str = "default";

/// Where the inbound routes live, relative to the policies folder.
pub const INBOUND_ROUTES: &str = "inbound/routes.toml";

/// The text of every file the gateway reads from `policies/`, by its path in the folder.
#[derive(Debug, Default)]
pub struct PolicyFiles {
    /// `name.toml` and its text.
    pub policies: Vec<(String, String)>,
    /// `templates/name.toml` and its text.
    pub templates: Vec<(String, String)>,
    /// `inbound/routes.toml`, if there is one.
    pub inbound_routes: Option<String>,
}

impl PolicyFiles {
    /// Reads the folder: `*.toml`, `templates/*.toml`, `inbound/routes.toml`. A folder
    /// that is missing reads as empty; a file that cannot be read is a problem.
    pub fn read(root: &Path) -> Result<PolicyFiles, String> {
        let toml_files = |dir: &Path| -> Result<Vec<(String, String)>, String> {
            let entries = match std::fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            };
            let mut files = Vec::new();
            for entry in entries {
                let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if !name.ends_with(".toml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
                files.push((name.to_string(), text));
            }
            files.sort();
            Ok(files)
        };
        let inbound_routes = match std::fs::read_to_string(root.join(INBOUND_ROUTES)) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{INBOUND_ROUTES}: {e}")),
        };
        Ok(PolicyFiles {
            policies: toml_files(root)?,
            templates: toml_files(&root.join("templates"))?,
            inbound_routes,
        })
    }

    /// Every problem found, each naming its file (and line, where it has one); empty when
    /// the folder is sound.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut template_names = BTreeSet::new();
        for (file, text) in &self.templates {
            match Template::parse(file, text) {
                Ok(template) => {
                    template_names.insert(template.name);
                }
                Err(e) => problems.push(format!("templates/{e}")),
            }
        }
        for (file, text) in &self.policies {
            match Policy::parse(file, text) {
                Ok(policy) => {
                    for missing in policy
                        .templates
                        .iter()
                        .flatten()
                        .filter(|t| !template_names.contains(*t))
                    {
                        problems.push(format!(
                            "{file}: templates names {missing}, but there is no templates/{missing}.toml"
                        ));
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        // A default.toml that is there but broken was named above already.
        let default_file = format!("{DEFAULT_POLICY}.toml");
        if !self.policies.iter().any(|(file, _)| *file == default_file) {
            problems.push(format!(
                "{DEFAULT_POLICY}.toml is missing: requests that name no policy use it"
            ));
        }
        if let Some(text) = &self.inbound_routes
            && let Err(e) = InboundRoutes::parse(INBOUND_ROUTES, text)
        {
            problems.push(e);
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str =
        "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncell = \"deliver-sms\"\n";
    const TEMPLATE: &str = "default_language = \"en\"\n[languages.en]\nbody = \"Hello {name}\"\n";

    fn files(policies: &[(&str, &str)], templates: &[(&str, &str)]) -> PolicyFiles {
        let own = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect()
        };
        PolicyFiles {
            policies: own(policies),
            templates: own(templates),
            inbound_routes: None,
        }
    }

    #[test]
    fn a_sound_folder_has_no_problems() {
        let sound = files(
            &[
                ("default.toml", POLICY),
                (
                    "clinic.toml",
                    &format!("templates = [\"reminder\"]\n{POLICY}"),
                ),
            ],
            &[("reminder.toml", TEMPLATE)],
        );
        assert_eq!(sound.check(), Vec::<String>::new());
    }

    #[test]
    fn every_broken_file_is_named_with_its_line() {
        let broken = PolicyFiles {
            inbound_routes: Some("[[route]]\nkeyword = 3\n".into()),
            ..files(
                &[
                    ("default.toml", POLICY),
                    (
                        "alerts.toml",
                        "roles = [\"*\"]\nvalidity = \"soon\"\nchannels = {}\n",
                    ),
                ],
                &[(
                    "reminder.toml",
                    "default_language = \"en\"\n[languages.en]\nbody = \"{x\"\n",
                )],
            )
        };
        let problems = broken.check();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("templates/reminder.toml")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("alerts.toml:2:")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("inbound/routes.toml:2")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_template_set_names_existing_templates_and_default_must_exist() {
        let problems = files(
            &[(
                "clinic.toml",
                &format!("templates = [\"reminder\"]\n{POLICY}"),
            )],
            &[],
        )
        .check();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("templates/reminder.toml"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("default.toml is missing"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_shipped_policies_folder_is_sound() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let shipped = PolicyFiles::read(&root).unwrap();
        assert!(shipped.policies.len() >= 2 && !shipped.templates.is_empty());
        assert!(shipped.inbound_routes.is_some());
        assert_eq!(shipped.check(), Vec::<String>::new());
    }
}
