//! Message templates: files under `policies/templates/`, one template per file, with
//! named placeholders and a variant per language.
//!
//! ```toml
//! description = "Vaccination reminder"
//! default_language = "en"      # the variant for recipients without one of their own
//!
//! [languages.en]
//! subject = "Vaccination on {date}"   # optional: email subject, push title
//! body = "{child} is due for a vaccination on {date} at {clinic}."
//!
//! [languages.sw]
//! body = "{child} anatakiwa kupata chanjo tarehe {date} katika {clinic}."
//! ```
//!
//! A placeholder is `{name}` (lowercase letters, digits, `_`); `{{` and `}}` write a
//! literal brace. A request names the template and gives a value for every placeholder any
//! variant uses: a missing or unknown value is refused at submit time (422), never sent as
//! a broken message.

use crate::group::Language;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Longest value of one placeholder.
pub const MAX_VALUE_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub default_language: Language,
    pub variants: BTreeMap<Language, Text>,
    placeholders: BTreeSet<String>,
}

/// One variant's text, or a rendered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
}

/// A template with its values filled in: every variant, and which one is the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub default_language: Language,
    pub variants: BTreeMap<Language, Text>,
}

impl Rendered {
    /// The variant for a recipient's language: the exact tag, else its primary language
    /// (`pt` for `pt-br`), else any variant of that primary language, else the default.
    pub fn for_language(&self, language: Option<&Language>) -> &Text {
        if let Some(language) = language {
            if let Some(text) = self.variants.get(language) {
                return text;
            }
            if let Some((_, text)) = self
                .variants
                .iter()
                .find(|(l, _)| l.primary() == language.primary())
            {
                return text;
            }
        }
        &self.variants[&self.default_language]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    #[allow(dead_code)]
    description: Option<String>,
    default_language: String,
    languages: BTreeMap<String, TextFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextFile {
    subject: Option<String>,
    body: String,
}

/// A piece of a template text.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

/// Splits a text into literals and placeholders, or says what is wrong with it.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push(Piece::Literal(&rest[..i]));
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push(Piece::Literal("{"));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push(Piece::Literal("}"));
            rest = after;
        } else if tail.starts_with('}') {
            return Err("a lone } (write }} for a literal brace)".into());
        } else {
            let end = tail
                .find('}')
                .ok_or("a { without its } (write {{ for a literal brace)")?;
            let name = &tail[1..end];
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(format!(
                    "placeholder {{{name}}} must be lowercase letters, digits and _"
                ));
            }
            out.push(Piece::Placeholder(name));
            rest = &tail[end + 1..];
        }
    }
    out.push(Piece::Literal(rest));
    Ok(out)
}

fn fill(text: &str, values: &BTreeMap<String, String>) -> String {
    pieces(text)
        .expect("checked when the template was parsed")
        .into_iter()
        .map(|piece| match piece {
            Piece::Literal(s) => s,
            Piece::Placeholder(name) => values[name].as_str(),
        })
        .collect()
}

impl Template {
    /// Parses one template file. Errors name the file and, where TOML knows it, the line.
    pub fn parse(file_name: &str, text: &str) -> Result<Template, String> {
        let name = file_name.strip_suffix(".toml").unwrap_or(file_name);
        if !crate::api::is_policy_name(name) {
            return Err(format!(
                "{file_name}: a template file name must be lowercase letters, digits and hyphens"
            ));
        }
        let raw: TemplateFile = toml::from_str(text).map_err(|e| {
            match e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1)
            {
                Some(line) => format!("{file_name}:{line}: {}", e.message()),
                None => format!("{file_name}: {}", e.message()),
            }
        })?;
        let default_language = Language::parse(&raw.default_language)
            .map_err(|m| format!("{file_name}: default_language: {m}"))?;
        let mut variants = BTreeMap::new();
        let mut placeholders = BTreeSet::new();
        for (tag, text) in raw.languages {
            let language =
                Language::parse(&tag).map_err(|m| format!("{file_name}: languages.{tag}: {m}"))?;
            for (field, value) in [
                ("body", Some(&text.body)),
                ("subject", text.subject.as_ref()),
            ] {
                let Some(value) = value else { continue };
                for piece in pieces(value)
                    .map_err(|m| format!("{file_name}: languages.{tag}.{field}: {m}"))?
                {
                    if let Piece::Placeholder(p) = piece {
                        placeholders.insert(p.to_string());
                    }
                }
            }
            if text.body.trim().is_empty() {
                return Err(format!("{file_name}: languages.{tag}.body is empty"));
            }
            variants.insert(
                language,
                Text {
                    subject: text.subject,
                    body: text.body,
                },
            );
        }
        if !variants.contains_key(&default_language) {
            return Err(format!(
                "{file_name}: default_language {} has no [languages.{}] variant",
                default_language.as_str(),
                default_language.as_str()
            ));
        }
        Ok(Template {
            name: name.to_string(),
            default_language,
            variants,
            placeholders,
        })
    }

    /// The placeholders any variant uses.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.placeholders.iter().map(String::as_str)
    }

    /// Fills every variant with `values`, which must give exactly the template's
    /// placeholders. The error is for the caller: it names what is missing or unknown.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<Rendered, String> {
        let missing: Vec<&str> = self
            .placeholders()
            .filter(|p| !values.contains_key(*p))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "template {} needs values for: {}",
                self.name,
                missing.join(", ")
            ));
        }
        let unknown: Vec<&str> = values
            .keys()
            .map(String::as_str)
            .filter(|k| !self.placeholders.contains(*k))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "template {} has no placeholder named: {}",
                self.name,
                unknown.join(", ")
            ));
        }
        for (name, value) in values {
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(format!(
                    "value of {name} has more than {MAX_VALUE_CHARS} characters"
                ));
            }
        }
        let variants = self
            .variants
            .iter()
            .map(|(language, text)| {
                let subject = text.subject.as_deref().map(|s| fill(s, values));
                if subject.as_deref().is_some_and(|s| s.contains(['\r', '\n'])) {
                    return Err(format!(
                        "the values make a {} subject of several lines",
                        language.as_str()
                    ));
                }
                Ok((
                    language.clone(),
                    Text {
                        subject,
                        body: fill(&text.body, values),
                    },
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(Rendered {
            default_language: self.default_language.clone(),
            variants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VACCINATION: &str = r#"
description = "Vaccination reminder"
default_language = "en"
[languages.en]
subject = "Vaccination on {date}"
body = "{child} is due for a vaccination on {date} at {clinic}. {{not a placeholder}}"
[languages.sw]
body = "{child} anatakiwa kupata chanjo tarehe {date} katika {clinic}."
[languages.pt-BR]
body = "{child} deve ser vacinado em {date} em {clinic}."
"#;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_every_language_and_picks_the_recipients() {
        let t = Template::parse("vaccination.toml", VACCINATION).unwrap();
        assert_eq!(
            t.placeholders().collect::<Vec<_>>(),
            ["child", "clinic", "date"]
        );
        let r = t
            .render(&values(&[
                ("child", "Baraka"),
                ("date", "12 May"),
                ("clinic", "Kibera"),
            ]))
            .unwrap();
        let en = r.for_language(None);
        assert_eq!(
            en.body,
            "Baraka is due for a vaccination on 12 May at Kibera. {not a placeholder}"
        );
        assert_eq!(en.subject.as_deref(), Some("Vaccination on 12 May"));
        let sw = Language::parse("sw").unwrap();
        assert!(
            r.for_language(Some(&sw))
                .body
                .starts_with("Baraka anatakiwa")
        );
        let pt = Language::parse("pt").unwrap();
        assert!(
            r.for_language(Some(&pt)).body.contains("deve ser"),
            "primary language"
        );
        let fr = Language::parse("fr").unwrap();
        assert_eq!(r.for_language(Some(&fr)), en, "the default");
    }

    #[test]
    fn missing_and_unknown_values_are_named() {
        let t = Template::parse("vaccination.toml", VACCINATION).unwrap();
        let e = t.render(&values(&[("child", "B")])).unwrap_err();
        assert!(e.contains("clinic, date"), "{e}");
        let e = t
            .render(&values(&[
                ("child", "B"),
                ("date", "d"),
                ("clinic", "c"),
                ("clinc", "x"),
            ]))
            .unwrap_err();
        assert!(e.contains("clinc"), "{e}");
        let e = t
            .render(&values(&[
                ("child", "B"),
                ("date", "a\nb"),
                ("clinic", "c"),
            ]))
            .unwrap_err();
        assert!(e.contains("subject"), "{e}");
    }

    #[test]
    fn broken_files_are_named_with_their_line() {
        let e = Template::parse(
            "t.toml",
            "default_language = \"en\"\n[languages.en]\nbody = \"Hi {Name}\"\n",
        )
        .unwrap_err();
        assert!(
            e.contains("languages.en.body") && e.contains("{Name}"),
            "{e}"
        );
        let e = Template::parse(
            "t.toml",
            "default_language = \"en\"\n[languages.en]\nbody = \"{x\"\n",
        )
        .unwrap_err();
        assert!(e.contains("without its }"), "{e}");
        let e = Template::parse(
            "t.toml",
            "default_language = \"fr\"\n[languages.en]\nbody = \"x\"\n",
        )
        .unwrap_err();
        assert!(e.contains("fr"), "{e}");
        let e = Template::parse("t.toml", "default_language = \"en\"\nbogus = 1\n").unwrap_err();
        assert!(e.starts_with("t.toml:2:"), "{e}");
    }
}
