//! OASIS Common Alerting Protocol 1.2 (`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">`):
//! parsing an alert and what the gateway makes of it.
//!
//! - Each `<info>` is the alert in one `<language>` (default `en-US`): it becomes a
//!   language variant of the broadcast (subject: `headline`, or `event`; body: headline
//!   and instruction, or description).
//! - `urgency` Immediate or Expected with `severity` Extreme or Severe is an emergency
//!   ([`Alert::is_emergency`]); the rest goes out under the everyday policy.
//! - The earliest `<expires>` ends the broadcast's validity.
//! - `<area>`: its `areaDesc` and `geocode` values name the target groups.
//! - `msgType` Update and Cancel act on the alerts their `<references>` name.
//!
//! Recorded samples, written from the standard, sit beside this file. DTDs are refused
//! (roxmltree's default), so entity expansion cannot blow up.

pub mod record;

use crate::group::Language;
use crate::template::{Rendered, Text};
use std::collections::{BTreeMap, BTreeSet};

pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// Largest alert document accepted.
pub const MAX_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Alert,
    Update,
    Cancel,
    Ack,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub sender: String,
    pub identifier: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub desc: String,
    pub geocodes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub language: Language,
    pub event: String,
    pub urgency: String,
    pub severity: String,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub expires_ms: Option<u64>,
    pub areas: Vec<Area>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub identifier: String,
    pub sender: String,
    pub sent_ms: u64,
    /// `Actual`, `Exercise`, `System`, `Test` or `Draft`.
    pub status: String,
    pub msg_type: MsgType,
    pub references: Vec<Reference>,
    pub infos: Vec<Info>,
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text_of(node: roxmltree::Node, name: &str) -> Option<String> {
    child(node, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn required(node: roxmltree::Node, name: &str, within: &str) -> Result<String, String> {
    text_of(node, name).ok_or_else(|| format!("<{within}> lacks <{name}>"))
}

fn one_of(value: String, allowed: &[&str], name: &str) -> Result<String, String> {
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(format!("<{name}> must be one of {}", allowed.join(", ")))
    }
}

impl Alert {
    /// Parses a CAP 1.2 alert. The error names the element at fault, never its content.
    pub fn parse(xml: &str) -> Result<Alert, String> {
        if xml.len() > MAX_BYTES {
            return Err(format!("the alert exceeds {MAX_BYTES} bytes"));
        }
        let doc =
            roxmltree::Document::parse(xml).map_err(|e| format!("not well-formed XML: {e}"))?;
        let root = doc.root_element();
        if root.tag_name().name() != "alert" || root.tag_name().namespace() != Some(NAMESPACE) {
            return Err(format!(
                "the root element must be <alert xmlns=\"{NAMESPACE}\">"
            ));
        }
        let identifier = required(root, "identifier", "alert")?;
        let sender = required(root, "sender", "alert")?;
        for (name, value) in [("identifier", &identifier), ("sender", &sender)] {
            if value.contains([' ', ',', '<', '&']) || value.chars().count() > 200 {
                return Err(format!(
                    "<{name}> must be one token without spaces or commas"
                ));
            }
        }
        let sent_ms = parse_datetime(&required(root, "sent", "alert")?)
            .ok_or("<sent> must be a date and time like 2026-11-26T06:00:00+03:00")?;
        let status = one_of(
            required(root, "status", "alert")?,
            &["Actual", "Exercise", "System", "Test", "Draft"],
            "status",
        )?;
        let msg_type = match required(root, "msgType", "alert")?.as_str() {
            "Alert" => MsgType::Alert,
            "Update" => MsgType::Update,
            "Cancel" => MsgType::Cancel,
            "Ack" => MsgType::Ack,
            "Error" => MsgType::Error,
            _ => return Err("<msgType> must be Alert, Update, Cancel, Ack or Error".into()),
        };
        one_of(
            required(root, "scope", "alert")?,
            &["Public", "Restricted", "Private"],
            "scope",
        )?;
        // "sender,identifier,sent" triples separated by whitespace.
        let references = text_of(root, "references")
            .unwrap_or_default()
            .split_whitespace()
            .map(|triple| {
                let mut parts = triple.split(',');
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(sender), Some(identifier), Some(_sent), None)
                        if !sender.is_empty() && !identifier.is_empty() =>
                    {
                        Ok(Reference {
                            sender: sender.to_string(),
                            identifier: identifier.to_string(),
                        })
                    }
                    _ => Err("<references> must be sender,identifier,sent triples".to_string()),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if matches!(msg_type, MsgType::Update | MsgType::Cancel) && references.is_empty() {
            return Err("an Update or Cancel needs <references> to the earlier alert".into());
        }
        let infos = root
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "info")
            .map(parse_info)
            .collect::<Result<Vec<_>, _>>()?;
        if matches!(msg_type, MsgType::Alert | MsgType::Update) && infos.is_empty() {
            return Err("an Alert or Update needs at least one <info>".into());
        }
        Ok(Alert {
            identifier,
            sender,
            sent_ms,
            status,
            msg_type,
            references,
            infos,
        })
    }

    /// Immediate or expected, and extreme or severe, in any language block.
    pub fn is_emergency(&self) -> bool {
        self.infos.iter().any(|i| {
            matches!(i.urgency.as_str(), "Immediate" | "Expected")
                && matches!(i.severity.as_str(), "Extreme" | "Severe")
        })
    }

    /// The earliest expiry of its blocks, if any has one.
    pub fn expires_ms(&self) -> Option<u64> {
        self.infos.iter().filter_map(|i| i.expires_ms).min()
    }

    /// The names its areas go by (`areaDesc` and geocode values), for finding the target
    /// groups; lowercase.
    pub fn area_names(&self) -> BTreeSet<String> {
        self.infos
            .iter()
            .flat_map(|i| &i.areas)
            .flat_map(|a| std::iter::once(&a.desc).chain(&a.geocodes))
            .map(|n| n.to_lowercase())
            .collect()
    }

    /// The text per language: the first block of each language; the first block is the
    /// default for recipients whose language has none.
    pub fn rendered(&self) -> Rendered {
        let mut variants = BTreeMap::new();
        for info in &self.infos {
            let headline = info.headline.clone().unwrap_or_else(|| info.event.clone());
            let advice = info.instruction.as_ref().or(info.description.as_ref());
            let body = match advice {
                Some(advice) => format!("{headline}. {advice}"),
                None => headline.clone(),
            };
            variants.entry(info.language.clone()).or_insert(Text {
                subject: Some(headline.replace(['\r', '\n'], " ")),
                body,
            });
        }
        Rendered {
            default_language: self.infos[0].language.clone(),
            variants,
        }
    }
}

fn parse_info(node: roxmltree::Node) -> Result<Info, String> {
    let language = match text_of(node, "language") {
        None => Language::parse("en-US").expect("valid"),
        Some(tag) => Language::parse(&tag).map_err(|m| format!("<language>: {m}"))?,
    };
    if child(node, "category").is_none() {
        return Err("<info> lacks <category>".into());
    }
    let event = required(node, "event", "info")?;
    let urgency = one_of(
        required(node, "urgency", "info")?,
        &["Immediate", "Expected", "Future", "Past", "Unknown"],
        "urgency",
    )?;
    let severity = one_of(
        required(node, "severity", "info")?,
        &["Extreme", "Severe", "Moderate", "Minor", "Unknown"],
        "severity",
    )?;
    one_of(
        required(node, "certainty", "info")?,
        &["Observed", "Likely", "Possible", "Unlikely", "Unknown"],
        "certainty",
    )?;
    let expires_ms = match text_of(node, "expires") {
        None => None,
        Some(t) => Some(parse_datetime(&t).ok_or("<expires> must be a date and time")?),
    };
    let areas = node
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "area")
        .map(|area| {
            Ok(Area {
                desc: required(area, "areaDesc", "area")?,
                geocodes: area
                    .children()
                    .filter(|c| c.is_element() && c.tag_name().name() == "geocode")
                    .filter_map(|g| text_of(g, "value"))
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Info {
        language,
        event,
        urgency,
        severity,
        headline: text_of(node, "headline"),
        description: text_of(node, "description"),
        instruction: text_of(node, "instruction"),
        expires_ms,
        areas,
    })
}

/// CAP's date and time (`2026-11-26T06:00:00+03:00`), as Unix milliseconds.
pub fn parse_datetime(s: &str) -> Option<u64> {
    crate::schedule::parse_rfc3339(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_alert_maps_to_languages_priority_areas_and_expiry() {
        let alert = Alert::parse(include_str!("flood_alert.xml")).unwrap();
        assert_eq!(alert.identifier, "KE-NDOC-2026-1126-001");
        assert_eq!(alert.msg_type, MsgType::Alert);
        assert!(alert.is_emergency());
        assert_eq!(alert.infos.len(), 2);
        let rendered = alert.rendered();
        assert_eq!(rendered.default_language.as_str(), "en-us");
        let en = rendered.for_language(None);
        assert_eq!(
            en.body,
            "Flash flood warning for the Tana River. Move to higher ground now. Do not cross flowing water."
        );
        let sw = rendered.for_language(Some(&Language::parse("sw").unwrap()));
        assert!(sw.body.starts_with("Tahadhari"));
        let en_gb = rendered.for_language(Some(&Language::parse("en-GB").unwrap()));
        assert_eq!(en_gb, en, "same primary language");
        assert_eq!(
            alert.area_names().into_iter().collect::<Vec<_>>(),
            ["garissa county", "ke-40", "tana river county"]
        );
        assert_eq!(alert.expires_ms(), parse_datetime("2099-11-26T15:00:00Z"));
        assert_eq!(
            alert.sent_ms,
            parse_datetime("2026-11-26T03:00:00Z").unwrap()
        );
    }

    #[test]
    fn updates_and_cancels_name_the_earlier_alert() {
        let update = Alert::parse(include_str!("flood_update.xml")).unwrap();
        assert_eq!(update.msg_type, MsgType::Update);
        assert_eq!(
            update.references,
            [Reference {
                sender: "alerts@ndoc.go.ke".into(),
                identifier: "KE-NDOC-2026-1126-001".into()
            }]
        );
        assert!(update.is_emergency(), "Expected and Severe");
        let cancel = Alert::parse(include_str!("flood_cancel.xml")).unwrap();
        assert_eq!(cancel.msg_type, MsgType::Cancel);
        assert!(cancel.infos.is_empty());
        let heat = Alert::parse(include_str!("heat_advisory.xml")).unwrap();
        assert!(!heat.is_emergency(), "Future and Moderate");
        assert_eq!(heat.expires_ms(), None);
    }

    #[test]
    fn malformed_alerts_name_what_is_wrong() {
        let flood = include_str!("flood_alert.xml");
        for (xml, expected) in [
            ("<alert>".to_string(), "well-formed"),
            ("<alert/>".to_string(), "xmlns"),
            (flood.replace("<severity>Extreme</severity>", "<severity>Bad</severity>"), "<severity>"),
            (flood.replace("<identifier>KE-NDOC-2026-1126-001</identifier>", ""), "<identifier>"),
            (flood.replace("<msgType>Alert</msgType>", "<msgType>Update</msgType>"), "references"),
            (flood.replace("2026-11-26T06:00:00+03:00", "yesterday"), "<sent>"),
            (flood.replace("<areaDesc>Garissa County</areaDesc>", ""), "areaDesc"),
            (
                "<!DOCTYPE alert [<!ENTITY a \"aaaa\">]><alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"/>".to_string(),
                "well-formed",
            ),
        ] {
            let e = Alert::parse(&xml).unwrap_err();
            assert!(e.contains(expected), "{expected}: {e}");
        }
    }

    #[test]
    fn datetimes_follow_their_offsets() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_datetime("1970-01-01T03:00:00+03:00"), Some(0));
        assert_eq!(
            parse_datetime("2000-03-01T00:00:00-00:00"),
            Some(951_868_800_000)
        );
        assert_eq!(parse_datetime("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_datetime("2026-01-01T00:00:00"), None);
    }
}
