//! Command-line flags and their embedded defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A local ClawChat server faithful to PROTOCOL.md: REST with `{code,msg,data}`
/// envelopes, WebSocket protocol v2 on `/ws`, durable per-device inboxes in SQLite, and
/// a loopback-only admin API for fault injection. It also serves the demo page.
#[derive(Parser, Debug, Clone)]
#[command(name = "clawchat-emulator", version)]
pub struct Config {
    /// Address of the public listener (REST, WebSocket `/ws`, demo page, media).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Address of the admin (fault-injection) listener; must be a loopback address.
    #[arg(long, default_value = "127.0.0.1:8788")]
    pub admin_listen: SocketAddr,

    /// SQLite database file, or `:memory:` for a throw-away store.
    #[arg(long, default_value = "emulator-data/clawchat.sqlite3")]
    pub db: String,

    /// Folder for uploaded media [default: `media/` beside the database, or a temporary
    /// folder with `--db :memory:`].
    #[arg(long)]
    pub media_dir: Option<PathBuf>,

    /// Lifetime of issued access tokens, in seconds (sign-in may ask for its own).
    #[arg(long, default_value_t = 900)]
    pub token_ttl_secs: u64,

    /// Seconds added to the emulator's clock when issuing and checking tokens.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub clock_offset_secs: i64,

    /// How long a new socket has to send `connect` after the challenge, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub handshake_timeout_ms: u64,

    /// Largest accepted WebSocket message, in bytes; larger ones close the socket.
    #[arg(long, default_value_t = 256 * 1024)]
    pub max_frame_bytes: usize,

    /// Interval of WebSocket control-frame pings; a socket silent for three intervals
    /// is closed as dead.
    #[arg(long, default_value_t = 15_000)]
    pub ping_interval_ms: u64,

    /// Largest accepted upload, in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub max_upload_bytes: usize,

    /// Folder served at `/` (the demo page).
    #[arg(long, default_value = "www")]
    pub www_dir: PathBuf,

    /// Folder served at `/pkg` (the wasm-pack output).
    #[arg(long, default_value = "pkg")]
    pub pkg_dir: PathBuf,

    /// A web origin (`http://host:port`) whose pages may call the REST API and open
    /// `/ws` cross-origin; repeatable. The emulator's own origin is always allowed; any
    /// other `Origin` is refused with 403.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,

    /// A web origin whose pages may call the admin API (for browser test runners only);
    /// repeatable. By default the admin API answers no CORS and refuses any request that
    /// carries an `Origin` other than its own.
    #[arg(long = "admin-allow-origin", value_name = "ORIGIN")]
    pub admin_allow_origins: Vec<String>,

    /// An extra `Host` header value (`name:port`) both listeners accept; repeatable.
    /// By default only the listen address, and `localhost`/`127.0.0.1`/`[::1]` with its
    /// port when it is loopback or unspecified, are accepted (DNS-rebinding defence).
    #[arg(long = "allow-host", value_name = "HOST:PORT")]
    pub allow_hosts: Vec<String>,

    /// Turn off the development routes `/v1/dev/*` (sign-in by nickname, activation codes).
    #[arg(long)]
    pub no_dev_sign_in: bool,

    /// Seconds during which a just-spent refresh token, presented again, returns the same
    /// new pair (at most twice), like newer ClawChat servers; 0 = strict single use.
    #[arg(long, default_value_t = 60)]
    pub refresh_grace_secs: u64,
}

impl Config {
    /// Defaults for an in-process test server: ephemeral ports, in-memory store.
    pub fn for_tests() -> Self {
        let mut config = Config::parse_from(["clawchat-emulator"]);
        config.listen = "127.0.0.1:0".parse().expect("literal address");
        config.admin_listen = "127.0.0.1:0".parse().expect("literal address");
        config.db = ":memory:".into();
        config
    }
}
