//! The image SpinKube runs. SpinKube cannot compose component dependencies
//! (spinframework/spin#2988), so `infra/` deploys the image that `spin registry push` makes
//! with Spin's defaults, each component composed with its dependencies. These tests push
//! the app to a real OCI registry and check the image as SpinKube's shim receives it.
//!
//! They run in the suite's Spin run (`MESSAGING_TEST_RUNTIME=spin`), on SQLite and on
//! Spin's own Redis store; the project host's runs skip them.

use integration_tests::gateway::{Gateway, KEY, steps};
use integration_tests::registry::Registry;
use integration_tests::runtime::Runtime;
use serde_json::json;

fn on_spin() -> bool {
    let spin = Runtime::of_suite() == Runtime::Spin;
    if !spin {
        eprintln!("skipped: images run in the suite's Spin run");
    }
    spin
}

#[test]
fn the_pushed_image_has_every_dependency_composed_in() {
    if !on_spin() {
        return;
    }
    let gw = Gateway::start_from_image(Registry::start());
    let image = gw.image().expect("an image");
    let app = image.registry.locked_app(&image.name);
    let components = app["components"].as_array().expect("components");
    let manifest: toml::Table = std::fs::read_to_string(gw.dir.path().join("spin.toml"))
        .expect("spin.toml")
        .parse()
        .expect("spin.toml parses");
    let declared = manifest["component"].as_table().expect("components");
    assert_eq!(components.len(), declared.len(), "{app}");
    let with_dependencies: Vec<&str> = declared
        .iter()
        .filter(|(_, c)| c.get("dependencies").is_some())
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(
        with_dependencies.contains(&"ingress"),
        "spin.toml no longer has dependencies to compose: {with_dependencies:?}"
    );
    for component in components {
        assert!(
            component.get("dependencies").is_none(),
            "{} still names dependencies, which SpinKube cannot resolve: {component}",
            component["id"]
        );
    }
}

#[test]
fn the_pushed_image_serves_messages_with_their_history() {
    if !on_spin() {
        return;
    }
    let gw = Gateway::start_from_image(Registry::start());
    let id =
        gw.accept(json!({"channel": "sms", "to": "+254700000011", "body": "Clinic opens at 9"}));
    let view = gw.wait_status(&id, "delivered");
    assert_eq!(
        steps(&view),
        ["accepted", "queued", "sent", "delivered"],
        "{view}"
    );
    // Ingress asks auth-check, composed into it, about every caller.
    let refused = gw.status("not-a-key", &id);
    assert_eq!(refused.status, 401, "{}", refused.body);
    let view = gw.status(KEY, &id);
    assert_eq!(view.status, 200, "{}", view.body);
}
