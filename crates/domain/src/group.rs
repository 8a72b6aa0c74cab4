//! Groups (pub/sub rooms): named sets of recipients that a broadcast reaches.
//!
//! A member is the minimum a delivery needs: a channel, an address on it and a preferred
//! language. The store keys a member by a keyed hash of its channel and address (so adding
//! the same member twice is one member, and removing needs no scan) and keeps the member
//! itself sealed.

use crate::api::{AddressBody, invalid, recipient};
use crate::error::{ApiError, ErrorCode};
use crate::hashing::keyed_hash;
use crate::{Channel, GroupId, Recipient};
use serde::{Deserialize, Serialize};

/// Largest body of a group request: a list of [`MAX_MEMBERS_PER_REQUEST`] members.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Members added or removed by one request; larger groups are filled page by page.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;
pub const MAX_NAME_CHARS: usize = 100;

/// A group's name: one line of 1 to 100 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(input: &str) -> Result<GroupName, ApiError> {
        let name = input.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(invalid(format!(
                "name must have 1 to {MAX_NAME_CHARS} printable characters"
            )));
        }
        Ok(GroupName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A BCP 47 language tag, lowercased (`en`, `sw`, `pt-br`): a 2 or 3 letter language and
/// optional subtags of 1 to 8 letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Language(String);

impl Language {
    pub fn parse(input: &str) -> Result<Language, String> {
        let tag = input.to_ascii_lowercase();
        let mut parts = tag.split('-');
        let primary = parts.next().unwrap_or_default();
        let primary_ok =
            (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
        let rest_ok = parts
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !primary_ok || !rest_ok || tag.len() > 35 {
            return Err("language must be a BCP 47 tag such as \"en\" or \"pt-BR\"".into());
        }
        Ok(Language(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language alone (`pt` of `pt-br`), for falling back between variants.
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

/// One recipient of a group or a broadcast.
#[derive(Debug, Clone)]
pub struct Member {
    pub channel: Channel,
    pub to: Recipient,
    pub language: Option<Language>,
    /// UTC offset in minutes (`"timezone": "+03:00"`), for quiet hours.
    pub utc_offset_min: Option<i16>,
}

impl Member {
    /// The keyed hash that names this member in storage keys: the same channel and
    /// address give the same hash, so membership is idempotent.
    pub fn hash(&self, hashing_key: &[u8]) -> String {
        member_hash(hashing_key, self.channel, self.to.as_str())
    }

    /// What the store keeps (sealed).
    pub fn stored(&self) -> StoredMember {
        StoredMember {
            channel: self.channel,
            to: self.to.as_str().to_string(),
            language: self.language.clone(),
            utc_offset_min: self.utc_offset_min,
        }
    }
}

/// A member who joined by text: the sender's address on the channel, no language.
pub fn member_from_inbound(channel: Channel, from: &str) -> Option<Member> {
    let to = recipient(channel, &AddressBody::Text(from.to_string()), "from").ok()?;
    Some(Member {
        channel,
        to,
        language: None,
        utc_offset_min: None,
    })
}

/// Names a member in storage keys: channel and address under the deployment's hashing key.
pub fn member_hash(hashing_key: &[u8], channel: Channel, address: &str) -> String {
    let value = format!("{}:{address}", channel.as_str());
    // 128 bits are plenty to keep members apart and keep keys of a large group short.
    keyed_hash(hashing_key, value.as_bytes())[..32].to_string()
}

/// A member as sealed in the store. The address was validated when the member was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMember {
    pub channel: Channel,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_min: Option<i16>,
}

/// What the store keeps about a group; members are kept apart, one key each.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: GroupId,
    pub owner: String,
    pub name: String,
    /// The word citizens text to join or leave (`JOIN <keyword>`, `LEAVE <keyword>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    pub created_ms: u64,
    /// Callers holding one of these roles may broadcast to the group (only its owner
    /// reads it or changes its members).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl GroupRecord {
    /// Whether `caller` (with `roles`) may broadcast to the group.
    pub fn admits(&self, caller: &str, roles: &[String]) -> bool {
        self.owner == caller || self.roles.iter().any(|r| roles.contains(r))
    }
}

/// A group's keyword: 1 to 20 letters or digits, kept as [`crate::inbound::normalize_word`]
/// makes it, the way inbound texts are matched.
pub fn parse_keyword(input: &str) -> Result<String, ApiError> {
    let keyword = crate::inbound::normalize_word(input);
    if keyword.is_empty()
        || keyword.chars().count() > 20
        || !keyword.chars().all(char::is_alphanumeric)
        || keyword != crate::inbound::normalize_word(&keyword)
    {
        return Err(invalid(
            "keyword must be one word of 1 to 20 letters or digits",
        ));
    }
    Ok(keyword)
}

/// `GET /v1/groups/{id}`.
#[derive(Debug, Serialize)]
pub struct GroupView {
    pub id: GroupId,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    pub members: u64,
    pub created_at: String,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateGroupBody {
    name: String,
    keyword: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// `POST /v1/groups`, parsed.
#[derive(Debug, PartialEq)]
pub struct NewGroup {
    pub name: GroupName,
    /// For groups citizens may join by text.
    pub keyword: Option<String>,
    /// Roles of other callers that may broadcast to it.
    pub roles: Vec<String>,
}

/// Parses `POST /v1/groups`.
pub fn parse_create(bytes: &[u8]) -> Result<NewGroup, ApiError> {
    let body: CreateGroupBody = parse_json(
        bytes,
        "the group schema ({\"name\", \"keyword\", \"roles\"})",
    )?;
    if body.roles.len() > 20
        || body
            .roles
            .iter()
            .any(|r| r.is_empty() || r.len() > 64 || r == "*" || r.chars().any(char::is_control))
    {
        return Err(invalid(
            "roles must be at most 20 role names (not \"*\": name the roles to share with)",
        ));
    }
    Ok(NewGroup {
        name: GroupName::parse(&body.name)?,
        keyword: body.keyword.as_deref().map(parse_keyword).transpose()?,
        roles: body.roles,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberBody {
    channel: String,
    address: AddressBody,
    language: Option<String>,
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MembersBody {
    One(MemberBody),
    Many(Vec<MemberBody>),
}

impl MemberBody {
    /// Validates one member; `field` names it in errors (`members[3]`).
    pub(crate) fn parse(&self, field: &str) -> Result<Member, ApiError> {
        let channel = Channel::parse(&self.channel).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownChannel,
                format!("{field}.channel must be \"sms\", \"email\", \"telegram\" or \"push\""),
            )
        })?;
        let to = recipient(channel, &self.address, &format!("{field}.address"))?;
        let language = self
            .language
            .as_deref()
            .map(Language::parse)
            .transpose()
            .map_err(|m| invalid(format!("{field}.language: {m}")))?;
        let utc_offset_min = self
            .timezone
            .as_deref()
            .map(|t| {
                crate::quiet_hours::parse_offset(t).ok_or_else(|| {
                    invalid(format!(
                        "{field}.timezone must be a UTC offset such as +03:00"
                    ))
                })
            })
            .transpose()?;
        Ok(Member {
            channel,
            to,
            language,
            utc_offset_min,
        })
    }
}

/// Parses a list of members (`POST /v1/groups/{id}/members` and `.../members/remove`):
/// one member object or an array of at most [`MAX_MEMBERS_PER_REQUEST`]. One bad member
/// refuses the whole request, naming it, so nothing is half-applied.
pub fn parse_members(bytes: &[u8]) -> Result<Vec<Member>, ApiError> {
    let body: MembersBody = parse_json(
        bytes,
        "the member schema ({\"channel\", \"address\", \"language\"} or a list of them)",
    )?;
    let list = match body {
        MembersBody::One(one) => vec![one],
        MembersBody::Many(many) => many,
    };
    parse_member_list(&list)
}

pub(crate) fn parse_member_list(list: &[MemberBody]) -> Result<Vec<Member>, ApiError> {
    if list.is_empty() || list.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(invalid(format!(
            "give 1 to {MAX_MEMBERS_PER_REQUEST} members per request"
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, m)| m.parse(&format!("members[{i}]")))
        .collect()
}

/// JSON with the API's size limit and error codes; `schema` is named when the shape is
/// wrong.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    schema: &str,
) -> Result<T, ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body exceeds {MAX_BODY_BYTES} bytes"),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| ApiError::new(ErrorCode::InvalidJson, "the body is not valid JSON"))?;
    // serde's data errors name fields and types, never echo values.
    serde_json::from_value(value)
        .map_err(|e| invalid(format!("the body does not match {schema}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_parse_one_or_many_and_name_the_bad_one() {
        let one = parse_members(br#"{"channel":"sms","address":"+254700000001","language":"sw"}"#)
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].language.as_ref().unwrap().as_str(), "sw");
        let many = parse_members(
            br#"[{"channel":"sms","address":"+254700000001"},{"channel":"email","address":"a@b.org","language":"pt-BR"}]"#,
        )
        .unwrap();
        assert_eq!(many[1].language.as_ref().unwrap().as_str(), "pt-br");
        assert_eq!(many[1].language.as_ref().unwrap().primary(), "pt");
        let bad = parse_members(
            br#"[{"channel":"sms","address":"+254700000001"},{"channel":"sms","address":"07"}]"#,
        )
        .unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidPhoneNumber);
        assert!(
            bad.message.contains("members[1].address"),
            "{}",
            bad.message
        );
        assert_eq!(
            parse_members(b"[]").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse_members(b"{").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        let lang =
            parse_members(br#"{"channel":"sms","address":"+254700000001","language":"english!"}"#)
                .unwrap_err();
        assert!(lang.message.contains("language"));
    }

    #[test]
    fn too_many_members_are_refused() {
        let one = r#"{"channel":"sms","address":"+254700000001"}"#;
        let body = format!("[{}]", vec![one; MAX_MEMBERS_PER_REQUEST + 1].join(","));
        assert_eq!(
            parse_members(body.as_bytes()).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn member_hash_is_keyed_and_separates_channels() {
        let a = member_hash(b"k1", Channel::Sms, "+254700000001");
        assert_eq!(a.len(), 32);
        assert_eq!(a, member_hash(b"k1", Channel::Sms, "+254700000001"));
        assert_ne!(a, member_hash(b"k2", Channel::Sms, "+254700000001"));
        assert_ne!(a, member_hash(b"k1", Channel::Telegram, "+254700000001"));
    }

    #[test]
    fn group_names_are_one_printable_line() {
        assert_eq!(
            GroupName::parse("  Mothers of newborns ").unwrap().as_str(),
            "Mothers of newborns"
        );
        assert!(GroupName::parse("").is_err());
        assert!(GroupName::parse("a\nb").is_err());
        assert!(GroupName::parse(&"x".repeat(101)).is_err());
        assert_eq!(
            parse_create(br#"{"name":"Nurses"}"#).unwrap().name.as_str(),
            "Nurses"
        );
        assert_eq!(
            parse_create(r#"{"name":"Mothers","keyword":"Mamá"}"#.as_bytes())
                .unwrap()
                .keyword
                .as_deref(),
            Some("MAMA")
        );
        assert!(parse_create(br#"{"name":"Mothers","keyword":"two words"}"#).is_err());
        assert!(parse_create(br#"{"name":"Nurses","x":1}"#).is_err());
    }

    #[test]
    fn a_group_is_shared_by_roles_it_names() {
        let new = parse_create(br#"{"name":"Health workers","roles":["alerts"]}"#).unwrap();
        assert_eq!(new.roles, ["alerts"]);
        assert!(parse_create(br#"{"name":"Everyone","roles":["*"]}"#).is_err());
        assert!(parse_create(br#"{"name":"Everyone","roles":[""]}"#).is_err());
        let record = GroupRecord {
            id: GroupId::from_random([7; 16]),
            owner: "registry".into(),
            name: "Health workers".into(),
            keyword: None,
            created_ms: 0,
            roles: new.roles,
        };
        assert!(record.admits("registry", &[]), "its owner");
        assert!(record.admits("disaster-agency", &["alerts".into()]));
        assert!(!record.admits("tax-office", &["notify".into()]));
    }
}
