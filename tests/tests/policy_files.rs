//! The policy folder is checked as a whole when the gateway starts: a broken policy,
//! template or inbound route file, or a policy naming a template that does not exist, stops
//! the host before it listens, and the error names the file and line. `GET /health` says the
//! same to a readiness probe.

use integration_tests::gateway::Gateway;
use integration_tests::http;

#[test]
fn a_sound_deployment_reports_healthy_without_credentials() {
    let gw = Gateway::start();
    let r = http::request("GET", &format!("{}/health", gw.base), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "ok");
}

#[test]
fn a_broken_policy_file_stops_the_host_naming_its_file_and_line() {
    let log = Gateway::refused_start(&[(
        "alerts.toml",
        "roles = [\"alerts\"]\nvalidity = \"soon\"\n[channels.sms]\ncell = \"deliver-sms\"\n",
    )]);
    assert!(log.contains("alerts.toml:2:"), "{log}");
    assert!(log.contains("validity must look like"), "{log}");
}

#[test]
fn a_broken_template_and_a_missing_template_are_both_named() {
    let log = Gateway::refused_start(&[
        (
            "templates/tax-reminder.toml",
            "default_language = \"en\"\n[languages.en]\nbody = \"Due on {date\"\n",
        ),
        (
            "clinic.toml",
            "roles = [\"*\"]\nvalidity = \"1h\"\ntemplates = [\"birth-registration\"]\n[channels.sms]\ncell = \"deliver-sms\"\n",
        ),
    ]);
    assert!(log.contains("templates/tax-reminder.toml"), "{log}");
    assert!(
        log.contains("clinic.toml") && log.contains("birth-registration"),
        "{log}"
    );
}
