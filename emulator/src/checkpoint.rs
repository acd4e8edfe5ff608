//! Copies the write-ahead log back into the database file on a thread and connection of
//! its own, so the writer's commits seldom wait for a checkpoint's copying and fsyncs
//! (tens of ms on a busy disk, which every send in flight would otherwise wait out).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

/// How often the log is copied back while the store is open.
const INTERVAL: Duration = Duration::from_millis(250);

/// Log pages (64 MB) after which the writer's own connection checkpoints. SQLite starts
/// the log over only when a write begins with all of it copied back, which under a
/// steady stream of commits only the writer itself can arrange; by then this thread has
/// copied and synced nearly all of it, so the writer's checkpoint is short.
pub const WRITER_CHECKPOINT_PAGES: i64 = 16_000;

/// The checkpoint thread; it ends when this handle is dropped.
#[derive(Debug)]
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing, through `conn`, a store in WAL mode every [`INTERVAL`].
    /// Passive checkpoints: they copy what is committed and never block the writer.
    pub fn spawn(conn: Connection) -> std::io::Result<Checkpointer> {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("clawchat-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(err) = done {
                        tracing::warn!(%err, "checkpoint failed; the writer's own ones remain");
                    }
                }
            })?;
        Ok(Checkpointer { _stop: stop })
    }
}
