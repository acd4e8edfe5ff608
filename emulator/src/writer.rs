//! Group commit of sent messages. One thread owns message writes: sends queue up while
//! a commit runs, and the thread then stores up to [`MAX_BATCH`] of them in one
//! transaction and answers each only after that commit. A send is still acked only
//! once it is on disk (same pragmas, same durability as one transaction per send), but
//! many sockets share one commit instead of taking turns on the store's lock from the
//! async workers, which no longer block on SQLite for a send.

use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::db::{Db, NewMessage};

/// Most messages stored in one transaction.
pub const MAX_BATCH: usize = 512;

/// The message could not be stored (the cause is logged by the writer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteFailed;

struct Job {
    message: NewMessage,
    done: oneshot::Sender<Result<i64, WriteFailed>>,
}

/// The handle to the writer thread; the thread ends when the handle is dropped.
#[derive(Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread over `db`.
    pub fn spawn(db: Arc<Db>) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("clawchat-writer".into())
            .spawn(move || run(&db, &queue))?;
        Ok(Writer { jobs })
    }

    /// Stores `message` (see [`Db::accept_message`]) and answers once it is committed:
    /// its first acceptance time.
    pub async fn accept(&self, message: NewMessage) -> Result<i64, WriteFailed> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { message, done })
            .map_err(|_| WriteFailed)?;
        answer.await.map_err(|_| WriteFailed)?
    }
}

/// The thread: waits for a send, takes whatever else is queued, commits, answers.
fn run(db: &Db, queue: &Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (messages, answers): (Vec<NewMessage>, Vec<_>) =
            batch.into_iter().map(|job| (job.message, job.done)).unzip();
        for (answer, result) in answers.into_iter().zip(commit(db, &messages)) {
            let _ = answer.send(result);
        }
    }
}

/// One transaction for the batch; if it fails, each message on its own, so one bad
/// message does not fail the others.
fn commit(db: &Db, messages: &[NewMessage]) -> Vec<Result<i64, WriteFailed>> {
    match db.accept_batch(messages) {
        Ok(accepted) => accepted.into_iter().map(Ok).collect(),
        Err(err) if messages.len() == 1 => {
            tracing::error!(%err, "message write failed");
            vec![Err(WriteFailed)]
        }
        Err(err) => {
            tracing::warn!(%err, size = messages.len(), "batch write failed; writing one by one");
            messages
                .iter()
                .map(|m| commit(db, std::slice::from_ref(m)).remove(0))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, now: i64) -> NewMessage {
        NewMessage {
            chat_id: "c".into(),
            sender_id: "a".into(),
            message_id: id.into(),
            recipients: vec!["b".into()],
            envelope: "{}".into(),
            now,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sends_are_each_answered_after_their_commit() {
        let db = Arc::new(Db::open(":memory:").unwrap());
        let writer = Arc::new(Writer::spawn(db.clone()).unwrap());
        let sends: Vec<_> = (0..1_000)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.accept(message(&format!("m{i}"), i)).await })
            })
            .collect();
        for (i, send) in sends.into_iter().enumerate() {
            assert_eq!(send.await.unwrap(), Ok(i as i64));
        }
        assert_eq!(
            writer.accept(message("m7", 99)).await,
            Ok(7),
            "a resend coalesces"
        );
        assert_eq!(db.inbox_after("b", 0, 2_000).unwrap().len(), 1_000);
    }
}
