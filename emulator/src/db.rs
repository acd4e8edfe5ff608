//! Durable storage in SQLite: users, refresh tokens, activation codes, chats, media,
//! messages, and a delivery cursor per device over each user's inbox.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::checkpoint::{Checkpointer, WRITER_CHECKPOINT_PAGES};

/// A storage failure (logged; the request fails with an internal error).
pub type DbResult<T> = Result<T, rusqlite::Error>;

/// The store's layout. Each message is stored once, in `messages`. A user's inbox is
/// not stored: it is the messages of the user's chats sent by someone else (members
/// never change, so these are exactly the chat's other members at sending time), read
/// through `messages_by_chat`. A send so writes one row and two index entries, whatever
/// the number of recipients. Message sequences are rowids (never reused: nothing is
/// deleted), so they grow in commit order; a device's cursor is one of them.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY, nickname TEXT NOT NULL UNIQUE, avatar_url TEXT, bio TEXT,
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash BLOB PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL,
  ttl_secs INTEGER NOT NULL, spent INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS activation_codes (
  code TEXT PRIMARY KEY, user_id TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS chats (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, direct_key TEXT UNIQUE,
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (
  chat_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (chat_id, user_id));
CREATE INDEX IF NOT EXISTS members_by_user ON members(user_id);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY, chat_id TEXT NOT NULL, sender_id TEXT NOT NULL,
  message_id TEXT NOT NULL, envelope TEXT NOT NULL, accepted_at INTEGER NOT NULL,
  UNIQUE (message_id, sender_id));
-- (message_id first: clients' ids are ULIDs, time first, so a commit's new entries
-- share the index's last pages instead of one page per sender; −20 % writer CPU.)
CREATE INDEX IF NOT EXISTS messages_by_chat ON messages(chat_id, seq);
CREATE TABLE IF NOT EXISTS cursors (
  user_id TEXT NOT NULL, device_id TEXT NOT NULL, delivered_seq INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id));
CREATE TABLE IF NOT EXISTS media (
  id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, name TEXT NOT NULL, mime TEXT NOT NULL,
  size INTEGER NOT NULL, created_at INTEGER NOT NULL);
";

/// A user's public profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// User id.
    pub id: String,
    /// Display name (unique in the emulator).
    pub nickname: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Bio.
    pub bio: Option<String>,
}

/// A chat with its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chat {
    /// Chat id.
    pub id: String,
    /// `direct` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Member user ids.
    pub member_ids: Vec<String>,
}

/// What a refresh token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshCheck {
    /// Valid and now spent: issue a new pair for this user and device.
    Rotated {
        /// The user.
        user_id: String,
        /// The bound device id.
        device_id: String,
        /// Access-token lifetime of this session.
        ttl_secs: u64,
    },
    /// Unknown or already spent.
    Invalid,
    /// Presented with another device id than the one bound at sign-in.
    DeviceMismatch,
}

/// A message accepted for storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The chat it was sent to.
    pub chat_id: String,
    /// Who sent it.
    pub sender_id: String,
    /// The sender's id for it.
    pub message_id: String,
    /// The other members, whose inboxes get it.
    pub recipients: Vec<String>,
    /// The downlink frame, as delivered.
    pub envelope: String,
    /// Acceptance time (epoch ms).
    pub now: i64,
}

/// A device's delivery cursor moving forward (it never moves back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorUpdate {
    /// The user.
    pub user_id: String,
    /// The device.
    pub device_id: String,
    /// The last inbox sequence sent to the device.
    pub seq: i64,
}

/// One write of a group commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store a sent message.
    Message(NewMessage),
    /// Move a delivery cursor.
    Cursor(CursorUpdate),
}

/// One page of a chat's history: `(envelope, accepted_at)` oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The messages of the page, oldest first.
    pub items: Vec<(String, i64)>,
    /// True when older messages remain.
    pub has_more: bool,
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRow {
    /// Original file name.
    pub name: String,
    /// MIME type.
    pub mime: String,
}

/// The SQLite store. One connection behind a mutex: every operation is short. Chats
/// never change after creation, so they are cached after their first read.
pub struct Db {
    conn: Mutex<Connection>,
    chats: Mutex<HashMap<String, Arc<Chat>>>,
    /// For a store in a file: its checkpoint thread, stopped with the store.
    _checkpointer: Option<Checkpointer>,
}

/// SHA-256 of a secret, so refresh tokens are never stored in clear.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

impl Db {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for `:memory:`.
    pub fn open(path: &str) -> DbResult<Self> {
        let (conn, checkpointer) = if path == ":memory:" {
            (Connection::open_in_memory()?, None)
        } else {
            if let Some(parent) = Path::new(path).parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // Checkpoints end in two fsyncs (32–54 ms each on the shared machine): a
            // thread of their own does the bulk of them ([`Checkpointer`]); the writer's
            // connection finishes one every 16,000 pages of log (SQLite's default is
            // 1,000), a sixteenth as often, and a page rewritten by many commits is
            // copied back once (120k sends in batches of 32: 66 fsyncs instead of 246
            // at 4,000 pages). Commits are unaffected: a committed send is in the log.
            conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
            let checkpointer = match Checkpointer::spawn(Connection::open(path)?) {
                Ok(checkpointer) => Some(checkpointer),
                Err(err) => {
                    tracing::warn!(%err, "no checkpoint thread; the writer checkpoints");
                    conn.pragma_update(None, "wal_autocheckpoint", 1000)?;
                    None
                }
            };
            (conn, checkpointer)
        };
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        drop_inbox_copies(&conn)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db {
            conn: Mutex::new(conn),
            chats: Mutex::default(),
            _checkpointer: checkpointer,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (statements are
        // atomic), so a poisoned lock is still safe to use.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value stored under `key`, created with `make` on first use.
    pub fn meta_or_insert(&self, key: &str, make: impl FnOnce() -> Vec<u8>) -> DbResult<Vec<u8>> {
        let conn = self.conn();
        let found: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        if let Some(value) = found {
            return Ok(value);
        }
        let value = make();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(value)
    }

    /// The user named `nickname`, created with `new_id` if there is none.
    pub fn user_by_nickname_or_create(
        &self,
        nickname: &str,
        new_id: &str,
        now: i64,
    ) -> DbResult<User> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO users (id, nickname, created_at) VALUES (?1, ?2, ?3)",
            params![new_id, nickname, now],
        )?;
        conn.query_row(
            "SELECT id, nickname, avatar_url, bio FROM users WHERE nickname = ?1",
            [nickname],
            user_from_row,
        )
    }

    /// The user with `id`.
    pub fn user(&self, id: &str) -> DbResult<Option<User>> {
        self.conn()
            .query_row(
                "SELECT id, nickname, avatar_url, bio FROM users WHERE id = ?1",
                [id],
                user_from_row,
            )
            .optional()
    }

    /// Every user except `id`, by nickname.
    pub fn other_users(&self, id: &str) -> DbResult<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, nickname, avatar_url, bio FROM users WHERE id != ?1 ORDER BY nickname",
        )?;
        let rows = stmt.query_map([id], user_from_row)?;
        rows.collect()
    }

    /// Updates the given profile fields of `id`; `Ok(false)` if the nickname is taken.
    pub fn update_user(
        &self,
        id: &str,
        nickname: Option<&str>,
        avatar_url: Option<&str>,
        bio: Option<&str>,
    ) -> DbResult<bool> {
        let result = self.conn().execute(
            "UPDATE users SET nickname = COALESCE(?2, nickname), avatar_url = COALESCE(?3, avatar_url),
             bio = COALESCE(?4, bio) WHERE id = ?1",
            params![id, nickname, avatar_url, bio],
        );
        match result {
            Ok(_) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Records a fresh refresh token bound to `user_id` and `device_id`.
    pub fn insert_refresh(
        &self,
        token: &str,
        user_id: &str,
        device_id: &str,
        ttl_secs: u64,
        now: i64,
    ) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO refresh_tokens (token_hash, user_id, device_id, ttl_secs, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![digest(token), user_id, device_id, ttl_secs as i64, now],
        )?;
        Ok(())
    }

    /// Spends `token` if it is valid for `device_id` (single use).
    pub fn spend_refresh(&self, token: &str, device_id: &str) -> DbResult<RefreshCheck> {
        let conn = self.conn();
        let hash = digest(token);
        let row: Option<(String, String, i64, bool)> = conn
            .query_row(
                "SELECT user_id, device_id, ttl_secs, spent FROM refresh_tokens WHERE token_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((user_id, bound_device, ttl_secs, spent)) = row else {
            return Ok(RefreshCheck::Invalid);
        };
        if spent {
            return Ok(RefreshCheck::Invalid);
        }
        if bound_device != device_id {
            return Ok(RefreshCheck::DeviceMismatch);
        }
        conn.execute(
            "UPDATE refresh_tokens SET spent = 1 WHERE token_hash = ?1",
            [&hash],
        )?;
        Ok(RefreshCheck::Rotated {
            user_id,
            device_id: bound_device,
            ttl_secs: ttl_secs.max(1) as u64,
        })
    }

    /// Stores a one-time activation code for `user_id`.
    pub fn insert_activation_code(&self, code: &str, user_id: &str) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO activation_codes (code, user_id) VALUES (?1, ?2)",
            params![code, user_id],
        )?;
        Ok(())
    }

    /// Uses up `code`, returning its user, or `None` if unknown or already used.
    pub fn use_activation_code(&self, code: &str) -> DbResult<Option<String>> {
        let conn = self.conn();
        let user: Option<String> = conn
            .query_row(
                "SELECT user_id FROM activation_codes WHERE code = ?1 AND used = 0",
                [code],
                |r| r.get(0),
            )
            .optional()?;
        if user.is_some() {
            conn.execute(
                "UPDATE activation_codes SET used = 1 WHERE code = ?1",
                [code],
            )?;
        }
        Ok(user)
    }

    /// Creates a chat (a direct chat between the same two users is returned, not duplicated).
    pub fn create_chat(
        &self,
        new_id: &str,
        kind: &str,
        name: &str,
        members: &[String],
        now: i64,
    ) -> DbResult<Arc<Chat>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let direct_key = (kind == "direct").then(|| {
            let mut pair = members.to_vec();
            pair.sort();
            pair.join("|")
        });
        if let Some(key) = &direct_key {
            let existing: Option<String> = tx
                .query_row("SELECT id FROM chats WHERE direct_key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(id) = existing {
                drop(tx);
                drop(conn);
                return self.chat(&id)?.ok_or(rusqlite::Error::QueryReturnedNoRows);
            }
        }
        tx.execute(
            "INSERT INTO chats (id, kind, name, direct_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![new_id, kind, name, direct_key, now],
        )?;
        for member in members {
            tx.execute(
                "INSERT OR IGNORE INTO members (chat_id, user_id) VALUES (?1, ?2)",
                params![new_id, member],
            )?;
        }
        tx.commit()?;
        drop(conn);
        self.chat(new_id)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)
    }

    /// The chat with `id`, with its members.
    pub fn chat(&self, id: &str) -> DbResult<Option<Arc<Chat>>> {
        let cache = || self.chats.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(chat) = cache().get(id) {
            return Ok(Some(chat.clone()));
        }
        let conn = self.conn();
        let head: Option<(String, String, String)> = conn
            .prepare_cached("SELECT id, kind, name FROM chats WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((id, kind, name)) = head else {
            return Ok(None);
        };
        let member_ids = member_ids(&conn, &id)?;
        let chat = Arc::new(Chat {
            id: id.clone(),
            kind,
            name,
            member_ids,
        });
        cache().insert(id, chat.clone());
        Ok(Some(chat))
    }

    /// Every chat `user_id` is a member of, newest first.
    pub fn chats_of(&self, user_id: &str) -> DbResult<Vec<Arc<Chat>>> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT c.id FROM chats c JOIN members m ON m.chat_id = c.id
                 WHERE m.user_id = ?1 ORDER BY c.created_at DESC, c.id",
            )?;
            let rows = stmt.query_map([user_id], |r| r.get(0))?;
            rows.collect::<DbResult<_>>()?
        };
        ids.iter()
            .filter_map(|id| self.chat(id).transpose())
            .collect()
    }

    /// The member ids of `chat_id` (empty when the chat does not exist).
    pub fn members(&self, chat_id: &str) -> DbResult<Vec<String>> {
        member_ids(&self.conn(), chat_id)
    }

    /// Applies `writes` in one transaction (group commit): every one is on disk when
    /// this returns `Ok`, none when it fails. Each answer is, for a message, the time it
    /// was first accepted (a resend with the same id coalesces and keeps the first time);
    /// for a cursor, its sequence.
    /// The inbox rows the messages added are pushed onto `stored`, `(recipient, seq,
    /// index of the write)`, in commit order.
    pub fn commit(
        &self,
        writes: &[Write],
        stored: &mut Vec<(String, i64, usize)>,
    ) -> DbResult<Vec<i64>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let first_new = stored.len();
        let answers = writes
            .iter()
            .enumerate()
            .map(|(index, write)| match write {
                Write::Message(message) => store_message(&tx, message, index, stored),
                Write::Cursor(cursor) => store_cursor(&tx, cursor),
            })
            .collect::<DbResult<Vec<i64>>>();
        let answers = answers.and_then(|answers| tx.commit().map(|()| answers));
        if answers.is_err() {
            stored.truncate(first_new);
        }
        answers
    }

    /// Up to `limit` messages of `chat_id` older than the one with id `before` (the
    /// newest when `None`), oldest first, and whether older ones remain. `None` when
    /// `before` names no message of that chat.
    pub fn history(
        &self,
        chat_id: &str,
        before: Option<&str>,
        limit: usize,
    ) -> DbResult<Option<HistoryPage>> {
        let conn = self.conn();
        let before_seq = match before {
            None => i64::MAX,
            Some(id) => match conn
                .prepare_cached(
                    "SELECT MAX(seq) FROM messages WHERE chat_id = ?1 AND message_id = ?2",
                )?
                .query_row(params![chat_id, id], |r| r.get::<_, Option<i64>>(0))?
            {
                Some(seq) => seq,
                None => return Ok(None),
            },
        };
        let mut stmt = conn.prepare_cached(
            "SELECT envelope, accepted_at FROM messages WHERE chat_id = ?1 AND seq < ?2
             ORDER BY seq DESC LIMIT ?3",
        )?;
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let mut items = stmt
            .query_map(params![chat_id, before_seq, fetch], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<DbResult<Vec<(String, i64)>>>()?;
        let has_more = items.len() > limit;
        items.truncate(limit);
        items.reverse();
        Ok(Some(HistoryPage { items, has_more }))
    }

    /// Up to `limit` inbox envelopes of `user_id` after `after_seq`, in order: the
    /// first `limit` of each of the user's chats, merged.
    pub fn inbox_after(
        &self,
        user_id: &str,
        after_seq: i64,
        limit: usize,
    ) -> DbResult<Vec<(i64, String)>> {
        let conn = self.conn();
        let chats = conn
            .prepare_cached("SELECT chat_id FROM members WHERE user_id = ?1")?
            .query_map([user_id], |r| r.get(0))?
            .collect::<DbResult<Vec<String>>>()?;
        let mut stmt = conn.prepare_cached(
            "SELECT seq, envelope FROM messages WHERE chat_id = ?1 AND seq > ?2
             AND sender_id <> ?3 ORDER BY seq LIMIT ?4",
        )?;
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = Vec::new();
        for chat in chats {
            let page = stmt.query_map(params![chat, after_seq, user_id, fetch], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            for row in page {
                rows.push(row?);
            }
        }
        rows.sort_unstable_by_key(|(seq, _): &(i64, String)| *seq);
        rows.truncate(limit);
        Ok(rows)
    }

    /// The last inbox sequence delivered to this device (0 for a new device).
    pub fn cursor(&self, user_id: &str, device_id: &str) -> DbResult<i64> {
        Ok(self
            .conn()
            .query_row(
                "SELECT delivered_seq FROM cursors WHERE user_id = ?1 AND device_id = ?2",
                params![user_id, device_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Records that this device has been sent everything up to `seq`.
    pub fn advance_cursor(&self, user_id: &str, device_id: &str, seq: i64) -> DbResult<()> {
        let cursor = CursorUpdate {
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
            seq,
        };
        self.commit(&[Write::Cursor(cursor)], &mut Vec::new())
            .map(drop)
    }

    /// Records an upload.
    pub fn insert_media(
        &self,
        id: &str,
        owner_id: &str,
        name: &str,
        mime: &str,
        size: u64,
        now: i64,
    ) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO media (id, owner_id, name, mime, size, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, owner_id, name, mime, size as i64, now],
        )?;
        Ok(())
    }

    /// The upload with `id`.
    pub fn media(&self, id: &str) -> DbResult<Option<MediaRow>> {
        self.conn()
            .query_row("SELECT name, mime FROM media WHERE id = ?1", [id], |r| {
                Ok(MediaRow {
                    name: r.get(0)?,
                    mime: r.get(1)?,
                })
            })
            .optional()
    }
}

/// Stores one message within `tx` (see [`Db::commit`]); returns its first
/// acceptance time.
fn store_message(
    tx: &rusqlite::Transaction<'_>,
    m: &NewMessage,
    index: usize,
    stored: &mut Vec<(String, i64, usize)>,
) -> DbResult<i64> {
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO messages (chat_id, sender_id, message_id, envelope, accepted_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            m.chat_id,
            m.sender_id,
            m.message_id,
            m.envelope,
            m.now
        ])?;
    // A new message was accepted now; only a resend needs its first acceptance read back.
    let accepted_at: i64 = if inserted == 1 {
        m.now
    } else {
        tx.prepare_cached(
            "SELECT accepted_at FROM messages WHERE sender_id = ?1 AND message_id = ?2",
        )?
        .query_row(params![m.sender_id, m.message_id], |r| r.get(0))?
    };
    // A new message is in each recipient's inbox under its own sequence; a resend
    // was there since its first acceptance.
    if inserted == 1 {
        let seq = tx.last_insert_rowid();
        stored.extend(m.recipients.iter().map(|r| (r.clone(), seq, index)));
    }
    Ok(accepted_at)
}

fn store_cursor(tx: &rusqlite::Transaction<'_>, c: &CursorUpdate) -> DbResult<i64> {
    tx.prepare_cached(
        "INSERT INTO cursors (user_id, device_id, delivered_seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, device_id) DO UPDATE SET delivered_seq = MAX(delivered_seq, ?3)",
    )?
    .execute(params![c.user_id, c.device_id, c.seq])?;
    Ok(c.seq)
}

/// Converts a store from before [`SCHEMA`] (an `inbox` table holding a copy of each
/// envelope under its own sequence) in place: each device cursor moves to the message
/// sequence of the last inbox row it had reached, so nothing is replayed twice or
/// skipped, and the copies are dropped. A store already converted, or new, is left as
/// it is.
fn drop_inbox_copies(conn: &Connection) -> DbResult<()> {
    let copies_envelopes: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('inbox') WHERE name = 'envelope'",
        [],
        |r| r.get(0),
    )?;
    if !copies_envelopes {
        return Ok(());
    }
    // The old row and its message have the same id and envelope (both were written in
    // one transaction from one envelope, which names the sender and the chat).
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         CREATE TEMP TABLE inbox_moves AS
           SELECT i.recipient, i.seq AS old_seq, m.seq AS seq FROM inbox i
           JOIN messages m ON m.message_id = i.message_id AND m.envelope = i.envelope;
         UPDATE cursors SET delivered_seq = COALESCE((SELECT MAX(seq) FROM inbox_moves
           WHERE recipient = cursors.user_id AND old_seq <= cursors.delivered_seq), 0);
         DROP TABLE inbox_moves;
         DROP TABLE inbox;
         COMMIT;",
    )
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        nickname: row.get(1)?,
        avatar_url: row.get(2)?,
        bio: row.get(3)?,
    })
}

fn member_ids(conn: &Connection, chat_id: &str) -> DbResult<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT user_id FROM members WHERE chat_id = ?1 ORDER BY user_id")?;
    let rows = stmt.query_map([chat_id], |r| r.get(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_single_use_and_device_bound() {
        let db = Db::open(":memory:").unwrap();
        db.insert_refresh("r1", "u1", "dev", 60, 0).unwrap();
        assert_eq!(
            db.spend_refresh("r1", "other").unwrap(),
            RefreshCheck::DeviceMismatch
        );
        assert_eq!(
            db.spend_refresh("r1", "dev").unwrap(),
            RefreshCheck::Rotated {
                user_id: "u1".into(),
                device_id: "dev".into(),
                ttl_secs: 60
            }
        );
        assert_eq!(
            db.spend_refresh("r1", "dev").unwrap(),
            RefreshCheck::Invalid
        );
        assert_eq!(
            db.spend_refresh("nope", "dev").unwrap(),
            RefreshCheck::Invalid
        );
    }

    fn accept(db: &Db, message: NewMessage) -> i64 {
        db.commit(&[Write::Message(message)], &mut Vec::new())
            .unwrap()[0]
    }

    /// A store with chat "c" of "a" and "b", where [`message`]s are sent by "a".
    fn store_with_chat() -> Db {
        let db = Db::open(":memory:").unwrap();
        db.create_chat("c", "group", "", &["a".into(), "b".into()], 0)
            .unwrap();
        db
    }

    fn message(id: &str, to: &[String], now: i64) -> NewMessage {
        NewMessage {
            chat_id: "c".into(),
            sender_id: "a".into(),
            message_id: id.into(),
            recipients: to.to_vec(),
            envelope: id.into(),
            now,
        }
    }

    #[test]
    fn a_resent_message_coalesces_and_keeps_its_first_acceptance() {
        let db = store_with_chat();
        let to = vec!["b".to_owned()];
        assert_eq!(accept(&db, message("m1", &to, 10)), 10);
        assert_eq!(accept(&db, message("m1", &to, 20)), 10);
        assert_eq!(db.inbox_after("b", 0, 10).unwrap().len(), 1);
        assert_eq!(db.history("c", None, 10).unwrap().unwrap().items.len(), 1);
    }

    #[test]
    fn an_inbox_is_the_other_members_messages_of_every_chat_in_commit_order() {
        let db = store_with_chat();
        db.create_chat("d", "group", "", &["b".into(), "e".into()], 0)
            .unwrap();
        let send = |chat: &str, from: &str, id: &str| {
            let to = vec!["b".to_owned()];
            let m = NewMessage {
                chat_id: chat.into(),
                sender_id: from.into(),
                ..message(id, &to, 0)
            };
            db.commit(&[Write::Message(m)], &mut Vec::new()).unwrap();
        };
        send("c", "a", "m1");
        send("d", "e", "m2");
        send("c", "b", "own");
        send("c", "a", "m4");
        send("d", "e", "m5");
        let ids = |rows: Vec<(i64, String)>| rows.into_iter().map(|(_, e)| e).collect::<Vec<_>>();
        let first = db.inbox_after("b", 0, 3).unwrap();
        let after = first[2].0;
        assert_eq!(ids(first), ["m1", "m2", "m4"]);
        assert_eq!(ids(db.inbox_after("b", after, 10).unwrap()), ["m5"]);
        assert_eq!(ids(db.inbox_after("a", 0, 10).unwrap()), ["own"]);
    }

    #[test]
    fn a_batch_is_stored_in_order_and_coalesces_within_itself() {
        let db = store_with_chat();
        let to = vec!["b".to_owned()];
        let batch = [
            Write::Message(message("m1", &to, 1)),
            Write::Message(message("m2", &to, 2)),
            Write::Cursor(CursorUpdate {
                user_id: "b".into(),
                device_id: "d".into(),
                seq: 9,
            }),
            Write::Message(message("m1", &to, 3)),
        ];
        let mut stored = Vec::new();
        assert_eq!(db.commit(&batch, &mut stored).unwrap(), [1, 2, 9, 1]);
        let seqs: Vec<i64> = db
            .inbox_after("b", 0, 10)
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(
            stored,
            [("b".into(), seqs[0], 0), ("b".into(), seqs[1], 1)],
            "new rows only"
        );
        assert_eq!(db.cursor("b", "d").unwrap(), 9);
        let inbox: Vec<String> = db
            .inbox_after("b", 0, 10)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        assert_eq!(inbox, ["m1", "m2"]);
    }

    #[test]
    fn history_pages_go_back_from_the_newest_and_each_page_is_in_order() {
        let db = Db::open(":memory:").unwrap();
        let ids: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
        for (i, id) in ids.iter().enumerate() {
            accept(&db, message(id, &[], i as i64));
        }
        let texts = |page: &HistoryPage| {
            page.items
                .iter()
                .map(|(e, _)| e.clone())
                .collect::<Vec<_>>()
        };
        let newest = db.history("c", None, 2).unwrap().unwrap();
        assert_eq!(
            (texts(&newest), newest.has_more),
            (vec!["m3".into(), "m4".into()], true)
        );
        let older = db.history("c", Some("m3"), 2).unwrap().unwrap();
        assert_eq!(
            (texts(&older), older.has_more),
            (vec!["m1".into(), "m2".into()], true)
        );
        let oldest = db.history("c", Some("m1"), 2).unwrap().unwrap();
        assert_eq!(
            (texts(&oldest), oldest.has_more),
            (vec!["m0".to_owned()], false)
        );
        assert_eq!(db.history("c", Some("nope"), 2).unwrap(), None);
        assert!(db
            .history("other", None, 2)
            .unwrap()
            .unwrap()
            .items
            .is_empty());
    }

    #[test]
    fn direct_chats_are_unique_per_pair() {
        let db = Db::open(":memory:").unwrap();
        let a = db
            .create_chat("c1", "direct", "", &["a".into(), "b".into()], 0)
            .unwrap();
        let b = db
            .create_chat("c2", "direct", "", &["b".into(), "a".into()], 0)
            .unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(db.chats_of("a").unwrap().len(), 1);
    }

    #[test]
    fn a_store_whose_inbox_copied_envelopes_is_converted_without_replaying_or_skipping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        let path = path.to_str().unwrap();
        {
            // The layout before inbox rows became references, with two messages to
            // "b" (old inbox seqs 1 and 2) and one to "c" (seq 3); b's device has
            // reached the first, c's device the only one.
            let old = Connection::open(path).unwrap();
            old.execute_batch(
                "CREATE TABLE messages (
                   seq INTEGER PRIMARY KEY AUTOINCREMENT, chat_id TEXT NOT NULL,
                   sender_id TEXT NOT NULL, message_id TEXT NOT NULL, envelope TEXT NOT NULL,
                   accepted_at INTEGER NOT NULL, UNIQUE (sender_id, message_id));
                 CREATE TABLE inbox (
                   seq INTEGER PRIMARY KEY AUTOINCREMENT, recipient TEXT NOT NULL,
                   message_id TEXT NOT NULL, envelope TEXT NOT NULL,
                   UNIQUE (recipient, message_id));
                 CREATE TABLE cursors (
                   user_id TEXT NOT NULL, device_id TEXT NOT NULL,
                   delivered_seq INTEGER NOT NULL, PRIMARY KEY (user_id, device_id));
                 CREATE TABLE members (
                   chat_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (chat_id, user_id));
                 INSERT INTO members VALUES ('c1', 'a'), ('c1', 'b'), ('c2', 'x'), ('c2', 'c');
                 INSERT INTO messages VALUES (10, 'c1', 'a', 'm1', 'e1', 1);
                 INSERT INTO messages VALUES (11, 'c1', 'a', 'm2', 'e2', 2);
                 INSERT INTO messages VALUES (12, 'c2', 'x', 'm1', 'e3', 3);
                 INSERT INTO inbox VALUES (1, 'b', 'm1', 'e1');
                 INSERT INTO inbox VALUES (2, 'b', 'm2', 'e2');
                 INSERT INTO inbox VALUES (3, 'c', 'm1', 'e3');
                 INSERT INTO cursors VALUES ('b', 'd', 1);
                 INSERT INTO cursors VALUES ('c', 'd', 3);
                 INSERT INTO cursors VALUES ('b', 'new', 0);",
            )
            .unwrap();
        }
        let db = Db::open(path).unwrap();
        assert_eq!(db.cursor("b", "d").unwrap(), 10);
        let after = db
            .inbox_after("b", db.cursor("b", "d").unwrap(), 10)
            .unwrap();
        assert_eq!(
            after,
            [(11, "e2".to_owned())],
            "only what b's device had not had"
        );
        assert!(db
            .inbox_after("c", db.cursor("c", "d").unwrap(), 10)
            .unwrap()
            .is_empty());
        assert_eq!(db.inbox_after("b", 0, 10).unwrap().len(), 2, "a new device");
        drop(db);
        let reopened = Db::open(path).unwrap();
        assert_eq!(reopened.cursor("b", "d").unwrap(), 10, "converted once");
        let to = vec!["b".to_owned()];
        let m3 = NewMessage {
            chat_id: "c1".into(),
            ..message("m3", &to, 4)
        };
        assert_eq!(accept(&reopened, m3), 4);
        let newest = reopened.inbox_after("b", 11, 10).unwrap();
        assert_eq!(newest.len(), 1);
        assert!(newest[0].0 > 12, "new sequences follow the old ones");
    }

    #[test]
    fn cursors_never_move_backwards() {
        let db = Db::open(":memory:").unwrap();
        db.advance_cursor("u", "d", 5).unwrap();
        db.advance_cursor("u", "d", 3).unwrap();
        assert_eq!(db.cursor("u", "d").unwrap(), 5);
    }
}
