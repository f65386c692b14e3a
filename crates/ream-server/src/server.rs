//! Starting the server: open the store, build the state, serve HTTP or HTTPS.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::push::Hub;
use crate::secrets::ServerKey;
use crate::state::AppState;
use crate::store::Store;
use crate::tls::{self, TlsSetup};

/// Opens everything the server (or the admin command line) works on.
pub async fn open_state(config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    restrict(&config)?;
    let key = server_key(&config)?;
    let spool_key = spool_key(&config)?;
    let store = Store::open(&config.database_url(), clock.clone()).await?;
    let delivery = Arc::new(crate::printing::DeliveryRun::new(config.instance()));
    let documents = crate::documents::Documents::from_config(&config)?;
    Ok(AppState {
        store,
        config: Arc::new(config),
        clock,
        key,
        spool_key,
        documents,
        hub: Arc::new(Hub::default()),
        delivery,
    })
}

/// The data directory is the server's alone (0700), and so is the SQLite database
/// (0600, made so before SQLite creates it: its journal files take the same mode).
fn restrict(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = &config.data_dir;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))?;
    if config.database_url.is_none() {
        let db = dir.join("ream.sqlite3");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&db)
            .with_context(|| format!("cannot open {}", db.display()))?;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The server key: `REAM_SERVER_KEY` (hex), else its file, made when missing on a single
/// server. In a cluster every instance must hold the same key, so none is ever made.
fn server_key(config: &Config) -> anyhow::Result<ServerKey> {
    if let Some(hex) = std::env::var_os("REAM_SERVER_KEY") {
        return ServerKey::from_hex(&hex.to_string_lossy()).context("REAM_SERVER_KEY");
    }
    let path = config.secret_key_path();
    if config.clustered() {
        return ServerKey::load(&path).with_context(|| {
            format!(
                "in a cluster the instances share one server key, never made by one of them: \
                 copy it to {} (secret_key_file) or set REAM_SERVER_KEY on each",
                path.display()
            )
        });
    }
    ServerKey::load_or_create(&path)
}

/// The spool key: `REAM_SPOOL_KEY` (base64), else its file; as [`server_key`].
fn spool_key(config: &Config) -> anyhow::Result<ream_print::spool::SpoolKey> {
    use ream_print::spool::SpoolKey;
    if let Some(b64) = std::env::var_os("REAM_SPOOL_KEY") {
        return SpoolKey::from_b64(&b64.to_string_lossy())
            .ok_or_else(|| anyhow::anyhow!("REAM_SPOOL_KEY is not a spool key (32 bytes in base64)"));
    }
    let path = config.spool_key_path();
    if config.clustered() {
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "in a cluster the instances share one spool key, never made by one of them: \
                 copy it to {} (cluster.spool_key_file) or set REAM_SPOOL_KEY on each",
                path.display()
            )
        })?;
        return SpoolKey::from_b64(&text)
            .ok_or_else(|| anyhow::anyhow!("{} is not a spool key", path.display()));
    }
    SpoolKey::load_or_create(&path)
        .with_context(|| format!("cannot read or create the spool key {}", path.display()))
}

pub async fn open_system_state(config: Config) -> anyhow::Result<AppState> {
    open_state(config, Arc::new(SystemClock)).await
}

/// What a started server tells the person who started it.
pub struct Started {
    pub url: String,
    pub fingerprint: Option<String>,
    pub generated_certificate: bool,
}

/// Connections waiting to be accepted: room for a burst (a shift arriving, every client
/// coming back after a restart) where the standard library leaves 128. The kernel caps
/// it at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Each client holds a socket open (its push channel): the soft limit on open files,
/// often 1024, is raised to the hard one that the system allows.
pub fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write only the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= limit.rlim_max {
            return;
        }
        let before = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
            tracing::debug!(from = before, to = limit.rlim_max, "raised the open files limit");
        }
    }
}

/// Serves until the process ends. `on_start` runs once the socket is bound.
pub async fn serve(state: AppState, on_start: impl FnOnce(&Started)) -> anyhow::Result<()> {
    raise_open_files_limit();
    let config = state.config.clone();
    let tls = tls::setup(&config)?;
    let listener = listen(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "localhost".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    state.documents.clear_staging();
    let catch_up = std::time::Duration::from_secs(config.cluster.push_catch_up_seconds);
    tokio::spawn(state.hub.clone().run(state.store.clone(), catch_up));
    tokio::spawn(crate::printing::resume(state.clone()));
    tokio::spawn(crate::printing::take_over(state.clone()));
    let janitor = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = crate::printing::expire_reprints(&janitor).await {
                tracing::warn!(error = %e, "cannot expire reprint documents");
            }
            if let Err(e) = crate::printing::expire_waiting(&janitor).await {
                tracing::warn!(error = %e, "cannot expire waiting jobs");
            }
        }
    });
    let app = crate::api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        TlsSetup::Plain => {
            on_start(&Started {
                url: format!("http://{host}:{}", addr.port()),
                fingerprint: None,
                generated_certificate: false,
            });
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, app).await?;
        }
        TlsSetup::Tls { cert, key, fingerprint, generated } => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| format!("cannot load {} / {}", cert.display(), key.display()))?;
            on_start(&Started {
                url: format!("https://{host}:{}", addr.port()),
                fingerprint: Some(fingerprint),
                generated_certificate: generated,
            });
            axum_server::from_tcp_rustls(listener, rustls).serve(app).await?;
        }
    }
    Ok(())
}
