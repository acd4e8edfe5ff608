//! # clawchat-emulator
//!
//! A local ClawChat server faithful to `shared/PROTOCOL.md`, for the demo and the tests:
//! REST with `{code,msg,data}` envelopes, WebSocket protocol v2 on `/ws`, durable
//! per-device inboxes in SQLite, and a loopback-only admin API for fault injection.
//! It also serves the demo page (`www/`) and the wasm-pack output (`pkg/`).

pub mod admin;
pub mod checkpoint;
pub mod config;
pub mod db;
pub mod faults;
pub mod grace;
pub mod history;
pub mod hub;
pub mod jwt;
pub mod rest;
pub mod state;
pub mod validate;
pub mod web;
pub mod writer;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, State};
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::services::ServeDir;

pub use config::Config;
use hub::Kick;
use state::AppState;

/// A running emulator. Dropping it leaves the server running; call [`Running::stop`].
pub struct Running {
    /// The public address (REST, `/ws`, static files).
    pub addr: SocketAddr,
    /// The loopback admin address.
    pub admin_addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://<addr>/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// `http://<admin addr>`.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin_addr)
    }

    /// What the group-commit writer has done so far (for the load benchmark).
    pub fn writer_stats(&self) -> writer::WriterStats {
        self.state.writer.stats()
    }

    /// Stops serving: sockets are dropped and both listeners closed.
    pub async fn stop(self) {
        self.state.hub.kick_all(Kick::Dropped);
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug)]
pub enum StartError {
    /// The admin listener must be on loopback.
    AdminNotLoopback(SocketAddr),
    /// A listener could not bind.
    Bind(SocketAddr, std::io::Error),
    /// The database could not be opened.
    Db(rusqlite::Error),
    /// The media folder could not be created.
    MediaDir(std::io::Error),
    /// The writer thread could not be started.
    Writer(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::AdminNotLoopback(addr) => {
                write!(f, "--admin-listen {addr} is not a loopback address")
            }
            StartError::Bind(addr, err) => write!(f, "cannot listen on {addr}: {err}"),
            StartError::Db(err) => write!(f, "cannot open the database: {err}"),
            StartError::MediaDir(err) => write!(f, "cannot create the media folder: {err}"),
            StartError::Writer(err) => write!(f, "cannot start the writer thread: {err}"),
        }
    }
}

impl std::error::Error for StartError {}

/// How much a socket reads at a time. The WebSocket library zeroes this much before
/// every read attempt, so its 128 KiB default cost more CPU than the rest of a `ping`
/// (frames of any size up to the limit still arrive: the buffer grows for them).
const READ_BUFFER_BYTES: usize = 8 * 1024;

async fn upgrade(upgrade: WebSocketUpgrade, State(state): State<Arc<AppState>>) -> Response {
    let limit = state.config.max_frame_bytes;
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| ws::run(socket, state))
}

fn media_dir(config: &Config) -> std::path::PathBuf {
    match (&config.media_dir, config.db.as_str()) {
        (Some(dir), _) => dir.clone(),
        (None, ":memory:") => {
            std::env::temp_dir().join(format!("clawchat-emulator-media-{}", std::process::id()))
        }
        (None, db) => std::path::Path::new(db)
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("media"),
    }
}

/// Opens storage, binds both listeners and starts serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    if !config.admin_listen.ip().is_loopback() {
        return Err(StartError::AdminNotLoopback(config.admin_listen));
    }
    let db = Arc::new(db::Db::open(&config.db).map_err(StartError::Db)?);
    let hub = Arc::new(hub::Hub::default());
    let deliveries = hub.clone();
    let writer = writer::Writer::spawn(
        db.clone(),
        Box::new(move |recipient, seq, envelope| deliveries.deliver(recipient, seq, envelope)),
    )
    .map_err(StartError::Writer)?;
    let key = db
        .meta_or_insert("jwt_key", || state::random_token(32).into_bytes())
        .map_err(StartError::Db)?;
    let media_dir = media_dir(&config);
    std::fs::create_dir_all(&media_dir).map_err(StartError::MediaDir)?;
    let public = TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let admin = TcpListener::bind(config.admin_listen)
        .await
        .map_err(|e| StartError::Bind(config.admin_listen, e))?;
    let addr = public
        .local_addr()
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let admin_addr = admin
        .local_addr()
        .map_err(|e| StartError::Bind(config.admin_listen, e))?;

    let state = Arc::new(AppState {
        signer: jwt::Signer::new(key),
        db,
        writer,
        hub,
        faults: Default::default(),
        counters: Default::default(),
        media_dir,
        grace: std::sync::Mutex::new(grace::GraceWindow::new(config.refresh_grace_secs)),
        config,
    });
    let config = &state.config;
    let demo = Router::new()
        .nest_service("/pkg", ServeDir::new(&config.pkg_dir))
        .fallback_service(ServeDir::new(&config.www_dir))
        .layer(middleware::from_fn(web::with_demo_csp));
    let public_app = Router::new()
        .merge(rest::routes(config))
        .route("/ws", get(upgrade))
        .merge(demo)
        .layer(DefaultBodyLimit::max(config.max_upload_bytes));
    let public_app = web::Policy::new(addr, &config.allow_hosts, &config.allow_origins)
        .apply(public_app)
        .with_state(state.clone());
    let admin_app = web::Policy::new(admin_addr, &config.allow_hosts, &config.admin_allow_origins)
        .apply(admin::routes())
        .with_state(state.clone());

    let (shutdown, _) = watch::channel(false);
    let serve = |listener: TcpListener, app: Router| {
        let mut stop = shutdown.subscribe();
        tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            // No Nagle: a socket often gets two frames back to back (a send's ack and a
            // message from another member); with Nagle the second waits for the
            // client's delayed TCP ack of the first, up to 40 ms.
            let listener = listener.tap_io(|tcp| {
                if let Err(err) = tcp.set_nodelay(true) {
                    tracing::debug!(%err, "TCP_NODELAY not set");
                }
            });
            let result = axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await;
            if let Err(err) = result {
                tracing::error!(%err, "server error");
            }
        })
    };
    let tasks = vec![serve(public, public_app), serve(admin, admin_app)];
    tracing::info!(%addr, %admin_addr, "emulator listening");
    Ok(Running {
        addr,
        admin_addr,
        state,
        shutdown,
        tasks,
    })
}
