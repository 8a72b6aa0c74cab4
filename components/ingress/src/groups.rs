//! `/v1/groups`: create a group, read it, add and remove members. A caller sees only the
//! groups it created.

use crate::accept::{hashing_key, new_random, open_store, unavailable};
use crate::govstack_messaging::types::types::Caller;
use crate::respond::{HttpResponse, json, or_error};
use message_store::{self as store, groups};
use messaging_domain::api::rfc3339_millis;
use messaging_domain::group::{GroupRecord, GroupView, parse_create, parse_members};
use messaging_domain::inbound_routes::InboundRoutes;
use messaging_domain::{ApiError, ErrorCode, GroupId};
use spin_sdk::http::Request;
use spin_sdk::key_value::Store;

pub async fn create(caller: Caller, req: Request) -> HttpResponse {
    or_error(
        async {
            let new = parse_create(&crate::body::json(req).await?)?;
            if let Some(keyword) = &new.keyword {
                keyword_reserved_for(keyword, &caller)?;
            }
            let kv = open_store().await?;
            let record = GroupRecord {
                id: GroupId::from_random(new_random()),
                owner: caller.id.clone(),
                name: new.name.as_str().to_string(),
                keyword: new.keyword,
                created_ms: store::now_ms(),
                roles: new.roles,
            };
            if !groups::create(&kv, &record)
                .await
                .map_err(|e| unavailable("group", e))?
            {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "another group has this keyword",
                ));
            }
            store::audit::emit(
                messaging_domain::audit::AuditStatus::Success,
                &store::audit::caller(&caller.id),
                None,
                serde_json::json!({"event": "group.created", "id": record.id.as_str(), "caller": caller.id}),
            );
            Ok(json(201, &view(&record, 0)))
        }
        .await,
    )
}

/// Where the operator hands out group keywords (`[[group_keyword]]`).
const ROUTES_FILE: &str = "/policies/inbound/routes.toml";

/// Refuses a keyword the operator has not reserved for `caller`: keywords are the words
/// citizens already know, not first come, first served across callers.
fn keyword_reserved_for(keyword: &str, caller: &Caller) -> Result<(), ApiError> {
    let routes = match std::fs::read_to_string(ROUTES_FILE) {
        Ok(text) => InboundRoutes::parse("inbound/routes.toml", &text)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e))?,
        Err(_) => InboundRoutes::default(),
    };
    match routes.group_keyword_owner(keyword) {
        Some(owner) if owner == caller.id => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the keyword {keyword} is not reserved for this caller: the operator reserves \
                 group keywords in policies/inbound/routes.toml ([[group_keyword]])"
            ),
        )),
    }
}

pub async fn read(caller: Caller, id: &str) -> HttpResponse {
    or_error(
        async {
            let kv = open_store().await?;
            let record = owned(&kv, &caller, id).await?;
            let count = groups::member_count(&kv, &record.id)
                .await
                .map_err(|e| unavailable("group", e))?;
            Ok(json(200, &view(&record, count)))
        }
        .await,
    )
}

/// `POST /v1/groups/{id}/members` (`remove`: `.../members/remove`): one member or a list,
/// all validated before any is written.
pub async fn change_members(caller: Caller, id: &str, req: Request, remove: bool) -> HttpResponse {
    or_error(
        async {
            let members = parse_members(&crate::body::json(req).await?)?;
            let kv = open_store().await?;
            let record = owned(&kv, &caller, id).await?;
            let key = hashing_key().await?;
            let changed = if remove {
                groups::remove(&record.id, key.as_bytes(), &members).await
            } else {
                groups::add(&record.id, key.as_bytes(), &members).await
            }
            .map_err(|e| unavailable("group members", e))?;
            let count = groups::member_count(&kv, &record.id)
                .await
                .map_err(|e| unavailable("group", e))?;
            let field = if remove { "removed" } else { "added" };
            store::audit::emit(
                messaging_domain::audit::AuditStatus::Success,
                &store::audit::caller(&caller.id),
                None,
                serde_json::json!({"event": format!("group.members_{field}"), "id": record.id.as_str(), "caller": caller.id, "count": changed}),
            );
            Ok(json(200, &serde_json::json!({ field: changed, "members": count })))
        }
        .await,
    )
}

/// The group if it exists and belongs to the caller; otherwise 404, the same answer for
/// both, so ids of other callers' groups cannot be probed.
pub async fn owned(kv: &Store, caller: &Caller, id: &str) -> Result<GroupRecord, ApiError> {
    find(kv, id, |g| g.owner == caller.id).await
}

/// The group `id` if `caller` may broadcast to it: its owner, or a caller holding one of
/// the roles it is shared with. Any other group answers 404, like a missing one.
pub async fn usable(kv: &Store, caller: &Caller, id: &str) -> Result<GroupRecord, ApiError> {
    find(kv, id, |g| g.admits(&caller.id, &caller.roles)).await
}

async fn find(
    kv: &Store,
    id: &str,
    visible: impl Fn(&GroupRecord) -> bool,
) -> Result<GroupRecord, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such group");
    let id = GroupId::parse(id).ok_or_else(not_found)?;
    groups::get(kv, &id)
        .await
        .map_err(|e| unavailable("group", e))?
        .filter(|g| visible(g))
        .ok_or_else(not_found)
}

fn view(record: &GroupRecord, members: u64) -> GroupView {
    GroupView {
        id: record.id.clone(),
        name: record.name.clone(),
        keyword: record.keyword.clone(),
        members,
        created_at: rfc3339_millis(record.created_ms),
        roles: record.roles.clone(),
    }
}
