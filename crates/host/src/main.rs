//! `messaging-host`: serves a Spin manifest on wasmtime. See `--help`.

use anyhow::{Context, Result};
use clap::Parser;
use messaging_host::app::{App, Settings};
use messaging_host::reuse::{self, InstanceReuse, Range};
use messaging_host::runtime_config::RuntimeConfig;
use messaging_host::server::{self, ServerSettings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// jemalloc instead of glibc's malloc, for Rust's allocations and, unprefixed, SQLite's.
/// The host allocates and frees many short-lived buffers per message (request bodies,
/// values lifted out of and lowered into guests, SQLite's pages and statements), from
/// many threads; glibc's arenas spent about 7 % of the host's CPU in that churn.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    version,
    about = "Serves the GovStack messaging gateway's spin.toml on wasmtime"
)]
struct Cli {
    /// The Spin manifest to serve.
    #[arg(long, default_value = "spin.toml")]
    manifest: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000", env = "MESSAGING_LISTEN")]
    listen: SocketAddr,
    /// Folder for the key-value database and the compiled-component cache (like Spin's
    /// `.spin/`). Relative to the manifest's folder.
    #[arg(long, default_value = ".messaging")]
    data_dir: PathBuf,
    /// Folder for compiled components (default: `<data-dir>/cache`). Relative to the
    /// manifest's folder.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Public requests served at once, each until its answer is sent; more wait for a turn
    /// (instead of failing when the instance pool runs out under a burst). Split into lanes: an eighth for CAP alerts
    /// (`/v1/alerts`), a quarter for provider webhooks, the rest for the API.
    #[arg(long, default_value_t = 128, env = "MESSAGING_MAX_CONCURRENT_REQUESTS")]
    max_concurrent_requests: usize,
    /// The longest wait for a request head, in milliseconds, from a connection's start or
    /// the end of its previous answer; a connection that sends none in time (a slow or an
    /// idle client) is closed.
    #[arg(
        long,
        default_value_t = 10_000,
        env = "MESSAGING_HEADER_READ_TIMEOUT_MS"
    )]
    header_read_timeout_ms: u64,
    /// The longest wait for a whole request body, in milliseconds, once its head is in;
    /// a body not in by then is answered 408. Bodies are read before a request waits for
    /// its turn, so a slow one holds only its own connection.
    #[arg(long, default_value_t = 20_000, env = "MESSAGING_BODY_READ_TIMEOUT_MS")]
    body_read_timeout_ms: u64,
    /// Connections open at once; past it a new connection is answered 503 and closed. Keep
    /// it below the process's file-descriptor limit (`ulimit -n`).
    #[arg(long, default_value_t = 4096, env = "MESSAGING_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Connections open at once from one client address (an IPv4 host or an IPv6 /64);
    /// past it a new one from there is answered 503 and closed.
    #[arg(
        long,
        default_value_t = 1024,
        env = "MESSAGING_MAX_CONNECTIONS_PER_CLIENT"
    )]
    max_connections_per_client: usize,
    /// How often delivery cells are ticked for retries, in milliseconds (0 disables).
    #[arg(long, default_value_t = 5000, env = "MESSAGING_TICK_MS")]
    tick_ms: u64,
    /// The longest wait, in milliseconds, for an outbound connection, the first byte of
    /// an answer, and each later byte, where a component sets none. Keep it well under a
    /// minute (a delivery claim).
    #[arg(long, default_value_t = 20_000, env = "MESSAGING_OUTBOUND_TIMEOUT_MS")]
    outbound_timeout_ms: u64,
    /// A runtime-config file in Spin's format: `[key_value_store.<label>]` sections put a
    /// store on Redis (`type = "redis"`, `url`) or on the SQLite file (`type = "spin"`).
    /// Without it every store is in `<data-dir>/kv.db`.
    #[arg(long, env = "MESSAGING_RUNTIME_CONFIG")]
    runtime_config_file: Option<PathBuf>,
    /// Load and compile every component (filling the cache), then exit.
    #[arg(long)]
    compile_only: bool,
    /// The app's health route, asked before listening: anything but 200 stops the host
    /// (the gateway's answers 503 on a broken policy file). Empty: no check.
    #[arg(long, default_value = "/health")]
    health_path: String,
    /// Most requests one component instance serves before it is dropped: a number, or a
    /// range like `64..256` to pick from per instance (Spin's flag and default, 128). 1
    /// gives every request a fresh instance.
    #[arg(long, value_parser = reuse::parse_count_range)]
    max_instance_reuse_count: Option<Range<usize>>,
    /// Most requests one component instance serves at once (a number or a range; Spin's
    /// flag and default, 16).
    #[arg(long, value_parser = reuse::parse_count_range)]
    max_instance_concurrent_reuse_count: Option<Range<usize>>,
    /// The longest a request may take to answer, and an instance may keep working after its
    /// last answer, before the instance is dropped: seconds, or with `ms`, `us`, `ns`, or a
    /// range (Spin's flag; none by default, as in Spin).
    #[arg(long, value_parser = reuse::parse_duration_range)]
    request_timeout: Option<Range<Duration>>,
    /// How long an idle instance is kept for the next request (a duration or a range;
    /// Spin's flag and default, 1s).
    #[arg(long, value_parser = reuse::parse_duration_range)]
    idle_instance_timeout: Option<Range<Duration>>,
    /// Emit logs as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESSAGING_LOG")
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init()
    } else {
        builder.init()
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is called, not
/// when the future is first polled: a SIGTERM that came between "listening on" and the
/// server's first poll took the default action and killed the host uncleanly (seen in CI).
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Connections the kernel queues before the server accepts them (capped by
/// `net.core.somaxconn`). tokio's `TcpListener::bind` asks for 128: a burst of a few hundred
/// callers connecting at once overflowed it, and the kernel reset the overflow.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do: a restarted host can take the port back from TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raises the soft limit of open files to the hard limit, as servers commonly do: every
/// open connection is a descriptor, and a login shell's soft limit (often 1024) is below
/// `--max-connections`. Returns the soft limit now in force.
fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(cli.json_logs);
    let manifest = std::fs::canonicalize(&cli.manifest)
        .with_context(|| format!("finding {}", cli.manifest.display()))?;
    let app_dir = manifest
        .parent()
        .expect("a file has a parent")
        .to_path_buf();
    let data_dir = app_dir.join(&cli.data_dir);
    let cache_dir = cli
        .cache_dir
        .map_or_else(|| data_dir.join("cache"), |c| app_dir.join(c));
    let runtime_config = match &cli.runtime_config_file {
        Some(path) => RuntimeConfig::load(path)?,
        None => RuntimeConfig::default(),
    };
    let settings = Settings {
        runtime_config,
        data_dir,
        cache_dir,
        app_dir,
        outbound_timeout: Duration::from_millis(cli.outbound_timeout_ms),
        reuse: {
            // Spin's defaults live in one place, `InstanceReuse::default`.
            let spin = InstanceReuse::default();
            InstanceReuse {
                max_reuse_count: cli.max_instance_reuse_count.unwrap_or(spin.max_reuse_count),
                max_concurrent_reuse_count: cli
                    .max_instance_concurrent_reuse_count
                    .unwrap_or(spin.max_concurrent_reuse_count),
                request_timeout: cli.request_timeout.or(spin.request_timeout),
                idle_instance_timeout: cli
                    .idle_instance_timeout
                    .unwrap_or(spin.idle_instance_timeout),
            }
        },
    };
    // Loading compiles components: it blocks, so it runs where blocking is allowed.
    let app = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(App::load(&manifest, settings, |name| {
            std::env::var(name).ok()
        }))
    })?;
    if cli.compile_only {
        println!("compiled {} components", app.component_count());
        return Ok(());
    }
    if !cli.health_path.is_empty() {
        messaging_host::health::check(&app, &cli.health_path).await?;
    }
    match raise_open_file_limit() {
        Ok(files) if files < cli.max_connections as u64 + 256 => tracing::warn!(
            files,
            max_connections = cli.max_connections,
            "the open-file limit is below --max-connections: connections past it fail to be accepted"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not read or raise the open-file limit"),
    }
    let shutdown = shutdown_signal()?;
    let listener = listen(cli.listen).with_context(|| format!("listening on {}", cli.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(app = %app.name, listen = %local, "serving");
    // One plain line on stdout for scripts and tests that start the host on port 0.
    println!("listening on http://{local}");
    if cli.tick_ms > 0 {
        tokio::spawn(messaging_host::ticker::run(
            app.clone(),
            Duration::from_millis(cli.tick_ms),
        ));
    }
    let settings = ServerSettings {
        max_body_bytes: cli.max_body_bytes,
        drain_timeout: Duration::from_secs(30),
        max_concurrent_requests: cli.max_concurrent_requests,
        header_read_timeout: Duration::from_millis(cli.header_read_timeout_ms),
        body_read_timeout: Duration::from_millis(cli.body_read_timeout_ms),
        connections: messaging_host::connections::Limits {
            total: cli.max_connections,
            per_client: cli.max_connections_per_client,
        },
    };
    let started = std::time::Instant::now();
    let served = server::serve(app.clone(), listener, settings, shutdown).await;
    let kv = app.kv_stats();
    let seconds = started.elapsed().as_secs_f64().max(0.001);
    tracing::info!(
        target: "messaging_host::kv",
        commits = kv.commits,
        writes = kv.writes,
        commits_per_second = (kv.commits as f64 / seconds).round(),
        writes_per_commit = (kv.writes as f64 / kv.commits.max(1) as f64 * 10.0).round() / 10.0,
        reads = kv.reads,
        reads_on_the_writer = kv.warm_reads,
        "the SQLite store's group commits while serving"
    );
    for (op, shape, tally) in app.kv_census().map(|c| c.tallies()).unwrap_or_default() {
        tracing::debug!(
            target: "messaging_host::kv",
            calls = tally.calls,
            keys = tally.keys,
            op,
            shape = %shape,
            "store calls while serving"
        );
    }
    served
}
