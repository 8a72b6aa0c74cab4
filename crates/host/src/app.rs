//! The application: every component of the manifest, compiled once, each behind a
//! `ProxyHandler` that serves requests on instances from the pooling allocator, reused as
//! Spin reuses them (`reuse.rs`).

use crate::compose;
use crate::hooks::OutboundHooks;
use crate::kv::KvStore;
use crate::logs::ComponentLog;
use crate::manifest::{ComponentDecl, FileMount, Manifest, Route};
use crate::outbound::HostPattern;
use crate::outbound_pool::ConnectionPool;
use crate::reuse::{InstanceReuse, Picked};
use crate::routes::Router;
use crate::runtime_config::RuntimeConfig;
use crate::spin::PlatformGrants;
use crate::state::{HostState, http_view};
use crate::variables::AppVariables;
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::{Component, GuestTaskId, Linker};
use wasmtime::{Engine, Store, StoreContextMut, StoreLimitsBuilder};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiBody;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState,
    WorkerStatus,
};

/// Memory one component instance may grow to.
const MAX_INSTANCE_MEMORY: usize = 128 << 20;

pub struct Settings {
    pub app_dir: PathBuf,
    pub data_dir: PathBuf,
    pub cache_dir: PathBuf,
    /// The longest wait on an outbound connection or answer (see `hooks.rs`).
    pub outbound_timeout: Duration,
    /// Where each key-value store lives (the runtime-config file; empty: all in SQLite).
    pub runtime_config: RuntimeConfig,
    /// How instances are reused (Spin's defaults unless told otherwise).
    pub reuse: InstanceReuse,
}

pub struct App {
    pub name: String,
    pub router: Router,
    cells: HashMap<String, ProxyHandler<Cell>>,
    pub private_components: Vec<String>,
    kv: Arc<KvStore>,
}

impl App {
    /// The SQLite store's commits so far (group commit: `kv/sqlite.rs`).
    pub fn kv_stats(&self) -> crate::kv::sqlite::CommitStats {
        self.kv.sqlite_stats()
    }

    /// The store calls counted so far, when the census is on (`kv/census.rs`).
    pub fn kv_census(&self) -> Option<&crate::kv::census::Census> {
        self.kv.census()
    }

    pub async fn load(
        manifest_path: &Path,
        settings: Settings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Arc<App>> {
        let manifest = Manifest::load(manifest_path)?;
        let variables = AppVariables::resolve(&manifest, env)?;
        let engine = engine()?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
        crate::spin::add_to_linker(&mut linker)?;
        crate::wasi_keyvalue::add_to_linker(&mut linker)?;
        let kv = Arc::new(
            KvStore::open(&settings.data_dir.join("kv.db"), &settings.runtime_config).await?,
        );
        let cache_dir = settings.cache_dir.clone();
        std::fs::create_dir_all(&cache_dir)
            .with_context(|| format!("creating {}", cache_dir.display()))?;

        let mut prepared = Vec::new();
        for (id, decl) in &manifest.component {
            let started = Instant::now();
            let component = load_component(&engine, &settings.app_dir, &cache_dir, decl)
                .with_context(|| format!("loading component {id}"))?;
            let pre = ProxyPre::P3(
                wasmtime_wasi_http::p3::bindings::ServicePre::new(
                    linker.instantiate_pre(&component)?,
                )
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component {id} is not a wasi:http 0.3 handler"))?,
            );
            tracing::info!(component = %id, ms = started.elapsed().as_millis() as u64, "component ready");
            prepared.push((id.clone(), decl.clone(), pre));
        }

        let router = Router::new(&manifest.trigger.http);
        let private_components = manifest
            .trigger
            .http
            .iter()
            .filter(|t| matches!(t.route, Route::Private { private: true }))
            .map(|t| t.component.clone())
            .collect();
        let mut configs = Vec::new();
        for (id, decl, pre) in prepared {
            let config = CellConfig::resolve(&id, &decl, &variables, &settings)?;
            configs.push((id, pre, config));
        }
        let name = manifest.application.name.clone();
        let pool = Arc::new(ConnectionPool::new(settings.outbound_timeout));
        let app = Arc::new_cyclic(|weak: &Weak<App>| {
            let cells = configs
                .into_iter()
                .map(|(id, pre, config)| {
                    let cell = Cell {
                        engine: engine.clone(),
                        id: Arc::from(id.as_str()),
                        pre,
                        grants: config.grants,
                        mounts: config.mounts,
                        allowed: Arc::new(config.allowed),
                        kv: kv.clone(),
                        app: weak.clone(),
                        pool: pool.clone(),
                        reuse: settings.reuse,
                    };
                    (id, ProxyHandler::new(cell))
                })
                .collect();
            App {
                name,
                router,
                cells,
                private_components,
                kv: kv.clone(),
            }
        });
        Ok(app)
    }

    pub fn component_count(&self) -> usize {
        self.cells.len()
    }

    /// A request without a body from the host itself (the timer's ticks, the start-up
    /// check), for [`App::call_component`].
    pub fn empty_request(method: &str, uri: &str) -> http::Request<WasiBody> {
        use http_body_util::BodyExt;
        http::Request::builder()
            .method(method)
            .uri(uri)
            .body(
                http_body_util::Full::new(bytes::Bytes::new())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .expect("static request parts are valid")
    }

    /// Serves one request on an instance of `component`, a fresh one or one that is serving
    /// others. `turn`, if given, is held until the whole answer has been sent (see
    /// `server::ServerSettings::max_concurrent_requests`): it belongs to this request, not
    /// to the instance, which may be serving other requests with turns of their own.
    pub async fn call_component(
        &self,
        component: &str,
        request: http::Request<WasiBody>,
        turn: Option<OwnedSemaphorePermit>,
    ) -> Result<http::Response<WasiBody>> {
        let Some(handler) = self.cells.get(component) else {
            bail!("no component named {component}");
        };
        let response = handler.handle((), request).await?;
        Ok(match turn {
            Some(turn) => crate::admission::hold_until_sent(response, turn),
            None => response,
        })
    }
}

fn engine() -> Result<Engine> {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(1000)
        .total_core_instances(10_000)
        .total_memories(4000)
        .total_tables(4000)
        .max_core_instances_per_component(64)
        .max_memories_per_component(16)
        .max_tables_per_component(16)
        .max_memory_size(MAX_INSTANCE_MEMORY)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20)
        // Instances end often (after their reuse count, or idle, and on every request with
        // `--max-instance-reuse-count 1`). Resetting memory with madvise costs a TLB
        // shootdown on every core each time; batching the decommits and re-zeroing the
        // first pages in place (they are touched again by the next instance anyway) cut
        // that cost, measured with `cargo xtask bench`.
        .decommit_batch_size(64)
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .async_stack_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = wasmtime::Config::new();
    config
        .wasm_component_model_async(true)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    // For engineers: `MESSAGING_PROFILER=perfmap` names the components' compiled
    // functions for `perf record` (bench/README.md, "Profiling").
    if std::env::var("MESSAGING_PROFILER").as_deref() == Ok("perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}"))
}

/// Reads a component and its dependencies, links them, and compiles the result, reusing a
/// compiled artefact from `cache_dir` when the same bytes were compiled before by the same
/// engine build.
fn load_component(
    engine: &Engine,
    app_dir: &Path,
    cache_dir: &Path,
    decl: &ComponentDecl,
) -> Result<Component> {
    let read = |p: &str| {
        let path = app_dir.join(p);
        std::fs::read(&path)
            .with_context(|| format!("reading {} (run `cargo xtask build`?)", path.display()))
    };
    let mut bytes = read(&decl.source)?;
    if !decl.dependencies.is_empty() {
        let plugs = decl
            .dependencies
            .iter()
            .map(|(name, dep)| Ok((name.clone(), read(&dep.path)?)))
            .collect::<Result<Vec<_>>>()?;
        bytes = compose::plug(&bytes, &plugs)?;
    }
    let mut hasher = Sha256::new();
    hasher.update(&bytes);
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_hash);
    hasher.update(std::hash::Hasher::finish(&engine_hash).to_le_bytes());
    let cached = cache_dir.join(format!("{}.cwasm", hex::encode(hasher.finalize())));
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of an engine with the same
        // compatibility hash, into the host's own data folder.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, &bytes).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    if let Ok(serialized) = component.serialize() {
        let tmp = cached.with_extension(format!("{}.tmp", std::process::id()));
        if std::fs::write(&tmp, serialized).is_ok() {
            let _ = std::fs::rename(&tmp, &cached);
        }
    }
    Ok(component)
}

/// A component as served: its pre-instance and everything a fresh instance gets.
pub struct Cell {
    engine: Engine,
    id: Arc<str>,
    pre: ProxyPre<HostState>,
    grants: PlatformGrants,
    mounts: Vec<(PathBuf, String)>,
    allowed: Arc<Vec<HostPattern>>,
    kv: Arc<KvStore>,
    app: Weak<App>,
    /// Kept-alive connections to providers and callers' systems, shared by every cell; it
    /// also holds the host's outbound timeout.
    pool: Arc<ConnectionPool>,
    /// How many requests one instance of this component may serve, and for how long.
    reuse: InstanceReuse,
}

/// What the manifest says about one component, resolved and checked at start.
struct CellConfig {
    grants: PlatformGrants,
    mounts: Vec<(PathBuf, String)>,
    allowed: Vec<HostPattern>,
}

impl CellConfig {
    fn resolve(
        id: &str,
        decl: &ComponentDecl,
        app_vars: &AppVariables,
        settings: &Settings,
    ) -> Result<CellConfig> {
        let mut variables = BTreeMap::new();
        for (name, template) in &decl.variables {
            let value = app_vars
                .expand(template)
                .with_context(|| format!("component {id}, variable {name}"))?;
            variables.insert(name.clone(), value);
        }
        let mut allowed = Vec::new();
        for entry in &decl.allowed_outbound_hosts {
            let expanded = app_vars
                .expand(entry)
                .with_context(|| format!("component {id}, allowed_outbound_hosts"))?;
            allowed.push(HostPattern::parse(&expanded).with_context(|| format!("component {id}"))?);
        }
        let mut mounts = Vec::new();
        for mount in &decl.files {
            match mount {
                FileMount::Directory {
                    source,
                    destination,
                } => {
                    mounts.push((settings.app_dir.join(source), destination.clone()));
                }
                FileMount::Glob(glob) => bail!(
                    "component {id}: file glob {glob:?} is not supported by this host; mount a directory"
                ),
            }
        }
        Ok(CellConfig {
            grants: PlatformGrants {
                stores: Arc::new(decl.key_value_stores.clone()),
                variables: Arc::new(variables),
            },
            mounts,
            allowed,
        })
    }
}

impl Cell {
    fn new_store(&self) -> Result<Store<HostState>> {
        let mut wasi = WasiCtxBuilder::new();
        // File operations (policy files, the outbox) are short reads and writes on local
        // disk: run them on the calling worker, as the key-value calls are, instead of
        // handing each to tokio's blocking pool and waking a thread for it.
        wasi.allow_blocking_current_thread(true);
        wasi.stdout(ComponentLog {
            component: self.id.clone(),
            stream: "stdout",
        })
        .stderr(ComponentLog {
            component: self.id.clone(),
            stream: "stderr",
        });
        // Read-only, as Spin mounts `files`: what a component keeps goes to a store.
        for (host, guest) in &self.mounts {
            wasi.preopened_dir(host, guest, FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("mounting {} at {guest}", host.display()))?;
        }
        // Raw TCP (e.g. SMTP) only for components granted `tcp://host:port`, and only to
        // those addresses; everything else stays without network beyond wasi:http.
        if self.allowed.iter().any(HostPattern::grants_tcp) {
            let allowed = self.allowed.clone();
            wasi.allow_tcp(true).allow_ip_name_lookup(true).socket_addr_check(move |addr, usage| {
                let allowed = allowed.clone();
                Box::pin(async move {
                    match usage {
                        // connect() binds implicitly to the wildcard address first.
                        SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                        SocketAddrUse::TcpConnect => {
                            for pattern in allowed.iter() {
                                if pattern.allows_tcp(addr).await {
                                    return true;
                                }
                            }
                            tracing::warn!(%addr, "TCP connection refused by allowed_outbound_hosts");
                            false
                        }
                        _ => false,
                    }
                })
            });
        }
        let state = HostState {
            wasi: wasi.build(),
            table: Default::default(),
            http: Default::default(),
            hooks: OutboundHooks {
                component: self.id.clone(),
                allowed: self.allowed.clone(),
                app: self.app.clone(),
                pool: self.pool.clone(),
            },
            kv: self.kv.clone(),
            grants: self.grants.clone(),
            limits: StoreLimitsBuilder::new()
                .memory_size(MAX_INSTANCE_MEMORY)
                .instances(256)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        Ok(store)
    }
}

impl HandlerState for Cell {
    type StoreData = HostState;
    type WorkerExpiration = Expiry;
    type WorkerState = Reused;

    async fn instantiate(&self) -> wasmtime::Result<Instance<HostState, Expiry, Reused>> {
        let mut store = self.new_store().map_err(wasmtime::Error::from_anyhow)?;
        let proxy = self.pre.instantiate_async(&mut store).await?;
        let picked = self.reuse.pick();
        Ok(Instance {
            store,
            proxy,
            view: http_view,
            expiration: Expiry {
                picked,
                timer: None,
            },
            state: Reused {
                id: self.id.clone(),
                picked,
            },
        })
    }
}

/// An instance serves up to its reuse count of requests, up to its concurrent count at a
/// time, as Spin's do. Nothing of a request may stay in the instance after it (see
/// ARCHITECTURE.md, "Invariants": no request data in component globals); the host keeps
/// nothing of a request in the instance's store either (a request's turn goes with its
/// answer, `App::call_component`).
pub struct Reused {
    id: Arc<str>,
    picked: Picked,
}

impl WorkerState for Reused {
    type StoreData = HostState;
    type RequestData = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.picked.max_reuse_count {
            ShouldAccept::Never
        } else if concurrent >= self.picked.max_concurrent_reuse_count {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, HostState>,
        (): (),
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        Box::pin(tokio::time::sleep(self.picked.request_timeout))
    }

    fn drop(&self, _store: Store<HostState>, result: Result<(), wasmtime::Error>) {
        if let Err(e) = result {
            tracing::error!(component = %self.id, error = %format!("{e:#}"), "instance ended with an error");
        }
    }
}

/// Ends an instance idle past its idle timeout, or whose requests or work after its last
/// answer overran the request timeout (as Spin does, the one timeout covers both).
pub struct Expiry {
    picked: Picked,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WorkerExpiration for Expiry {
    fn poll(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        state: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let this = self.get_mut();
        let limit = match state {
            WorkerStatus::Idle => this.picked.idle_instance_timeout,
            WorkerStatus::Requests | WorkerStatus::PostReturn => this.picked.request_timeout,
        };
        // No timeout (`Duration::MAX`) never comes.
        let Some(deadline) = start.checked_add(limit) else {
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx)
    }
}
