//! policy-router: plans a message's delivery from the policy files mounted at `/policies`.

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "policy-router",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

use exports::govstack_messaging::policy::policy::{
    DeliveryPlan, FallbackPlan, Guest, PlanRequest, PolicyError, Priority, QuietHours,
    RenderedTemplate, RenderedText, RetrySchedule, TemplateError,
};
use govstack_messaging::types::types::Channel as WitChannel;
use messaging_domain::policy::Priority as DomainPriority;
use messaging_domain::policy_files::{DEFAULT_POLICY, PolicyFiles};
use messaging_domain::template::Template;
use messaging_domain::{Channel, policy::Policy};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Where spin.toml mounts `policies/`.
const POLICY_DIR: &str = "/policies";

struct PolicyRouter;

fn domain_channel(c: WitChannel) -> Channel {
    match c {
        WitChannel::Sms => Channel::Sms,
        WitChannel::Email => Channel::Email,
        WitChannel::Telegram => Channel::Telegram,
        WitChannel::Push => Channel::Push,
    }
}

fn wit_channel(c: Channel) -> WitChannel {
    match c {
        Channel::Sms => WitChannel::Sms,
        Channel::Email => WitChannel::Email,
        Channel::Telegram => WitChannel::Telegram,
        Channel::Push => WitChannel::Push,
    }
}

/// Policy files parsed by this instance, by name. The files are the deployment's
/// configuration, mounted read-only, the same for every request: an instance reads and
/// parses each once instead of once per message. Only parsed files are kept, so a name
/// with no file or a broken file is read again (and refused again) each time.
static POLICIES: Mutex<BTreeMap<String, Policy>> = Mutex::new(BTreeMap::new());
/// Template files parsed by this instance, by name, as [`POLICIES`].
static TEMPLATES: Mutex<BTreeMap<String, Template>> = Mutex::new(BTreeMap::new());

/// [`load`], remembered in `cache`.
fn load_cached<T: Clone, E>(
    cache: &Mutex<BTreeMap<String, T>>,
    folder: &str,
    name: &str,
    parse: fn(&str, &str) -> Result<T, String>,
    unknown: fn(String) -> E,
    invalid: fn(String) -> E,
) -> Result<T, E> {
    let lock = || cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(parsed) = lock().get(name) {
        return Ok(parsed.clone());
    }
    let parsed = load(folder, name, parse, unknown, invalid)?;
    lock().insert(name.to_string(), parsed.clone());
    Ok(parsed)
}

/// Reads and parses `/policies/<folder><name>.toml` with `parse`; a name that is no file
/// name or has no file is `unknown`, anything else wrong is `invalid` (naming file and line).
fn load<T, E>(
    folder: &str,
    name: &str,
    parse: fn(&str, &str) -> Result<T, String>,
    unknown: fn(String) -> E,
    invalid: fn(String) -> E,
) -> Result<T, E> {
    if !messaging_domain::api::is_policy_name(name) {
        return Err(unknown(name.to_string()));
    }
    let file = format!("{name}.toml");
    let text = match std::fs::read_to_string(format!("{POLICY_DIR}/{folder}{file}")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(unknown(name.to_string()));
        }
        Err(e) => return Err(invalid(format!("{folder}{file}: {e}"))),
    };
    parse(&file, &text).map_err(|e| invalid(format!("{folder}{e}")))
}

fn load_policy(name: &str) -> Result<Policy, PolicyError> {
    load_cached(
        &POLICIES,
        "",
        name,
        Policy::parse,
        PolicyError::UnknownPolicy,
        PolicyError::InvalidPolicy,
    )
}

impl Guest for PolicyRouter {
    async fn render(
        policy: Option<String>,
        name: String,
        values: Vec<(String, String)>,
    ) -> Result<RenderedTemplate, TemplateError> {
        let policy_name = policy.as_deref().unwrap_or(DEFAULT_POLICY);
        let policy = load_cached(
            &POLICIES,
            "",
            policy_name,
            Policy::parse,
            TemplateError::UnknownPolicy,
            TemplateError::InvalidTemplate,
        )?;
        if !policy.offers_template(&name) {
            return Err(TemplateError::NotOffered(format!(
                "policy {policy_name} does not offer the template {name}"
            )));
        }
        let template = load_cached(
            &TEMPLATES,
            "templates/",
            &name,
            Template::parse,
            TemplateError::UnknownTemplate,
            TemplateError::InvalidTemplate,
        )?;
        let rendered = template
            .render(&values.into_iter().collect())
            .map_err(TemplateError::InvalidValues)?;
        Ok(RenderedTemplate {
            default_language: rendered.default_language.as_str().to_string(),
            variants: rendered
                .variants
                .into_iter()
                .map(|(language, text)| RenderedText {
                    language: language.as_str().to_string(),
                    subject: text.subject,
                    body: text.body,
                })
                .collect(),
        })
    }

    async fn check() -> Vec<String> {
        match PolicyFiles::read(std::path::Path::new(POLICY_DIR)) {
            Ok(files) => files.check(),
            Err(e) => vec![e],
        }
    }

    async fn plan(request: PlanRequest) -> Result<DeliveryPlan, PolicyError> {
        let name = request.policy.as_deref().unwrap_or(DEFAULT_POLICY);
        let policy = load_policy(name)?;
        if !policy.allows(&request.caller.roles) {
            return Err(PolicyError::NotAllowed(format!(
                "policy {name} does not admit the caller's roles"
            )));
        }
        let channel = domain_channel(request.channel);
        let route = policy.routes.get(&channel).ok_or_else(|| {
            PolicyError::ChannelUnavailable(format!(
                "policy {name} has no {} channel",
                channel.as_str()
            ))
        })?;
        if !route.admits(&request.caller.roles) {
            return Err(PolicyError::NotAllowed(format!(
                "policy {name} does not admit the caller's roles on its {} channel",
                channel.as_str()
            )));
        }
        Ok(DeliveryPlan {
            policy: policy.name.clone(),
            channel: request.channel,
            cell: route.cells[0].clone(),
            fallback_cells: route.cells[1..].to_vec(),
            failover_after: route.failover_after,
            validity_seconds: policy.validity_seconds,
            fallback: route.fallback.map(|fallback| FallbackPlan {
                channel: wit_channel(fallback),
                cells: policy.routes[&fallback].cells.clone(),
                unless_delivered_within: route.fallback_unless_delivered_within,
            }),
            priority: match policy.priority {
                DomainPriority::Emergency => Priority::Emergency,
                DomainPriority::Transactional => Priority::Transactional,
                DomainPriority::Bulk => Priority::Bulk,
            },
            retry: policy.retry.map(|r| RetrySchedule {
                first_ms: r.first_ms,
                max_interval_ms: r.max_interval_ms,
                give_up_after_ms: r.give_up_after_ms,
            }),
            quiet_hours: policy.quiet_hours.map(|q| QuietHours {
                start_minute: q.start_min,
                end_minute: q.end_min,
            }),
            reply_wait_max_seconds: policy.reply_wait_max_seconds,
        })
    }
}

export!(PolicyRouter);
