//! A real Kannel on loopback: bearerbox, smsbox, and Kannel's own fake SMSC (`fakesmsc`),
//! which acknowledges every message and makes bearerbox report delivery (DLR 8, then 1).
//! Needs the Debian packages `kannel` and `kannel-extras` (`cargo xtask test` installs them).

use crate::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const USERNAME: &str = "gateway";
pub const PASSWORD: &str = "gw-pass";
const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";

pub struct Kannel {
    pub sendsms_url: String,
    dir: tempfile::TempDir,
    children: Vec<Child>,
    smsc: u16,
    /// How many fake SMSCs were started (each writes its own `fakesmsc-N.out`).
    smscs: usize,
}

/// smsbox's service for SMS from phones: to the gateway's inbound webhook when given
/// (`get-url`, nothing sent back to the phone), else Kannel's canned answer.
fn sms_service(inbound_url: Option<&str>) -> String {
    match inbound_url {
        Some(url) => format!(
            "group = sms-service\nkeyword = default\ncatch-all = true\nmax-messages = 0\n\
             get-url = \"{url}?from=%p&to=%P&text=%a&id=%I\"\n"
        ),
        None => "group = sms-service\nkeyword = default\ncatch-all = true\ntext = \"No service\"\n"
            .into(),
    }
}

fn config(
    dir: &Path,
    (admin, smsbox, smsc, sendsms): (u16, u16, u16, u16),
    inbound_url: Option<&str>,
) -> String {
    let d = dir.display();
    format!(
        r#"group = core
admin-port = {admin}
admin-password = admin-secret
admin-interface = 127.0.0.1
smsbox-port = {smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = 1
dlr-storage = internal
store-type = file
store-location = "{d}/store"

group = smsc
smsc = fake
smsc-id = FAKE
port = {smsc}
interface-version = 34
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 0
http-request-retry = 3
http-queue-delay = 1

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
max-messages = 10
default-sender = 12345

{}"#,
        sms_service(inbound_url)
    )
}

pub fn available() -> bool {
    Path::new(FAKESMSC).exists() && which("bearerbox").is_some() && which("smsbox").is_some()
}

fn which(bin: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.exists())
}

impl Kannel {
    pub fn start() -> Kannel {
        Kannel::start_on(free_port())
    }

    /// Starts Kannel with its sendsms interface on `sendsms`.
    pub fn start_on(sendsms: u16) -> Kannel {
        Kannel::launch(sendsms, None)
    }

    /// Starts Kannel with SMS from phones going to `inbound_url` (the gateway's
    /// `/webhooks/kannel/inbound/<token>`).
    pub fn start_with_inbound(inbound_url: &str) -> Kannel {
        Kannel::launch(free_port(), Some(inbound_url))
    }

    /// Starts Kannel, on fresh ports each time a start fails: [`free_port`] releases the
    /// port it found, so under parallel tests another process (often an outgoing
    /// connection's source port) can take it first, and bearerbox or smsbox then exits.
    fn launch(sendsms: u16, inbound_url: Option<&str>) -> Kannel {
        assert!(
            available(),
            "Kannel is not installed: apt-get install kannel kannel-extras (cargo xtask test does)"
        );
        let mut failures = Vec::new();
        for _attempt in 0..4 {
            match Kannel::try_launch(sendsms, inbound_url) {
                Ok(kannel) => return kannel,
                Err(why) => failures.push(why),
            }
        }
        panic!("Kannel did not start:\n{}", failures.join("\n"));
    }

    fn try_launch(sendsms: u16, inbound_url: Option<&str>) -> Result<Kannel, String> {
        let (admin, smsbox, smsc) = (free_port(), free_port(), free_port());
        let mut kannel = Kannel {
            sendsms_url: format!("http://127.0.0.1:{sendsms}"),
            dir: tempfile::tempdir().unwrap(),
            children: Vec::new(),
            smsc,
            smscs: 1,
        };
        let dir = kannel.dir.path().to_path_buf();
        let conf = dir.join("kannel.conf");
        std::fs::write(
            &conf,
            config(&dir, (admin, smsbox, smsc, sendsms), inbound_url),
        )
        .unwrap();
        let spawn = |cmd: &mut Command, name: &str| {
            // Kannel logs (fakesmsc's "Got message" lines among them) go to stderr.
            let out = std::fs::File::create(dir.join(format!("{name}.out"))).unwrap();
            cmd.stdout(Stdio::null())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {name}: {e}"))
        };
        kannel.children.push(spawn(
            Command::new(which("bearerbox").unwrap()).arg(&conf),
            "bearerbox",
        ));
        kannel.wait_listening(smsbox, "bearerbox")?;
        kannel.children.push(spawn(
            Command::new(which("smsbox").unwrap()).arg(&conf),
            "smsbox",
        ));
        // -m 0: the fake SMSC sends no messages of its own; it only takes ours.
        kannel.children.push(spawn(
            Command::new(FAKESMSC).args([
                "-H",
                "127.0.0.1",
                "-r",
                &smsc.to_string(),
                "-i",
                "0.1",
                "-m",
                "0",
                "100 200 text unused",
            ]),
            "fakesmsc-0",
        ));
        kannel.wait_listening(sendsms, "smsbox")?;
        // The SMSC link is up once bearerbox's status page lists it online.
        let status_page = format!("http://127.0.0.1:{admin}/status.txt?password=admin-secret");
        kannel.wait_until("the fake SMSC to connect", || {
            crate::http::request("GET", &status_page, &[], None)
                .body
                .contains("online")
        })?;
        Ok(kannel)
    }

    /// Waits until `port` accepts connections.
    fn wait_listening(&mut self, port: u16, what: &str) -> Result<(), String> {
        self.wait_until(&format!("{what} on port {port}"), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
    }

    /// Polls `ready` every 50 ms; fails early when one of Kannel's processes has exited
    /// (its port was taken), with the end of that process's output, or after 20 s.
    fn wait_until(&mut self, what: &str, mut ready: impl FnMut() -> bool) -> Result<(), String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if ready() {
                return Ok(());
            }
            let exited = self
                .children
                .iter_mut()
                .enumerate()
                .find_map(|(n, c)| c.try_wait().ok().flatten().map(|status| (n, status)));
            if let Some((n, status)) = exited {
                let name = ["bearerbox", "smsbox", "fakesmsc-0"][n.min(2)];
                let out = std::fs::read_to_string(self.dir.path().join(format!("{name}.out")))
                    .unwrap_or_default();
                let lines: Vec<&str> = out.lines().collect();
                let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
                return Err(format!(
                    "waiting for {what}: {name} exited ({status}): {tail}"
                ));
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("waiting for {what}: nothing after 20 s"));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The messages the fake SMSC received, as `(receiver, text)`.
    /// A phone sends `text` from `from`: the running fake SMSC is replaced by one that
    /// sends this one message to bearerbox (Kannel's fake SMSC takes one connection at a
    /// time), then keeps receiving.
    pub fn phone_sends(&mut self, from: &str, text: &str) {
        if let Some(mut old) = self.children.pop() {
            let _ = old.kill();
            let _ = old.wait();
        }
        let out =
            std::fs::File::create(self.dir.path().join(format!("fakesmsc-{}.out", self.smscs)))
                .unwrap();
        self.smscs += 1;
        let child = Command::new(FAKESMSC)
            .args([
                "-H",
                "127.0.0.1",
                "-r",
                &self.smsc.to_string(),
                "-i",
                "0.1",
                "-m",
                "1",
                &format!("{from} 12345 text {text}"),
            ])
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("fakesmsc starts");
        self.children.push(child);
    }

    pub fn received(&self) -> Vec<(String, String)> {
        let out: String = (0..self.smscs)
            .map(|n| {
                std::fs::read_to_string(self.dir.path().join(format!("fakesmsc-{n}.out")))
                    .unwrap_or_default()
            })
            .collect();
        out.lines()
            .filter_map(|line| {
                let inner = line
                    .split_once("Got message ")?
                    .1
                    .split_once(": <")?
                    .1
                    .strip_suffix('>')?;
                let mut parts = inner.splitn(4, ' ');
                let (_from, to, _kind, text) =
                    (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                Some((to.to_string(), text.to_string()))
            })
            .collect()
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failed test shows what Kannel did: a delivery report that never reached the
        // gateway is only visible in smsbox's log (its HTTP calls) and bearerbox's (DLRs).
        if std::thread::panicking() {
            for log in ["bearerbox.log", "smsbox.log"] {
                let text = std::fs::read_to_string(self.dir.path().join(log)).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(80)..];
                eprintln!(
                    "--- Kannel {log} (last {} lines) ---\n{}",
                    tail.len(),
                    tail.join("\n")
                );
            }
        }
    }
}
