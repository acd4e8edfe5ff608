//! The job queue of a store worker: the worker takes every queued job in one round (one
//! transaction), and a round that nothing waits for is put off a little, so the writes of
//! a burst share a transaction instead of queueing one behind the other.

use gloo_timers::callback::Timeout;
use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::platform::page_visible;

/// A job of a store worker.
pub(super) trait Job {
    /// The change a write job makes to its store.
    type Write;

    /// Something waits for it (a send for its row, a read for its answer): a round that
    /// holds it starts at once. Other jobs may wait for company.
    fn urgent(&self) -> bool;

    /// The change, if the job is a write.
    fn into_write(self) -> Option<Self::Write>;
}

/// Jobs for a store worker that takes all of them each round, and whether it runs.
pub(super) struct JobQueue<J> {
    jobs: Vec<J>,
    running: bool,
    urgent: bool,
    /// How long a round of jobs that are not urgent waits for more, in ms (`None`: it
    /// does not).
    patience_ms: Option<u32>,
    /// Ends the worker's current wait (a `resolve` of the promise it awaits).
    wake: Option<Function>,
}

impl<J: Job> JobQueue<J> {
    /// An empty queue whose rounds of jobs that are not urgent wait `patience_ms`.
    pub fn new(patience_ms: Option<u32>) -> Self {
        JobQueue {
            jobs: Vec::new(),
            running: false,
            urgent: false,
            patience_ms,
            wake: None,
        }
    }

    /// Queues `job`; true when no worker runs, so the caller must start one (it is then
    /// counted as running). An urgent job ends the worker's wait.
    pub fn push(&mut self, job: J) -> bool {
        let urgent = job.urgent();
        self.jobs.push(job);
        if urgent {
            self.hurry();
        }
        !std::mem::replace(&mut self.running, true)
    }

    /// Ends the worker's wait, if it waits: what is queued goes now (the page may be
    /// going away).
    pub fn hurry(&mut self) {
        if !self.jobs.is_empty() {
            self.urgent = true;
        }
        if let Some(wake) = self.wake.take() {
            let _ = wake.call0(&JsValue::NULL);
        }
    }

    /// What the worker waits for before its next round: `None` when a round may start at
    /// once (an urgent job is queued, or nothing is and the worker stops at [`take`]; the
    /// queue has no patience; the page is hidden, where timers are throttled to a minute
    /// and other tabs may be reading the store).
    ///
    /// [`take`]: JobQueue::take
    pub fn wait(&mut self) -> Option<Wait> {
        let patience_ms = self.patience_ms?;
        if self.urgent || self.jobs.is_empty() || !page_visible() {
            return None;
        }
        let wait = Wait::new(patience_ms)?;
        self.wake = Some(wait.wake.clone());
        Some(wait)
    }

    /// No worker runs, so nothing is queued (a worker runs while jobs are): a job now
    /// would be the first in order.
    pub fn idle(&self) -> bool {
        !self.running
    }

    /// Everything queued, taken without a worker (the driver is going away).
    pub fn drain(&mut self) -> Vec<J> {
        std::mem::take(&mut self.jobs)
    }

    /// Everything queued, for the worker's next round; `None` when nothing is, and the
    /// worker stops.
    pub fn take(&mut self) -> Option<Vec<J>> {
        let jobs = std::mem::take(&mut self.jobs);
        self.urgent = false;
        self.wake = None;
        self.running = !jobs.is_empty();
        self.running.then_some(jobs)
    }
}

/// A wait of up to some ms that an urgent job ends early; the timer is cancelled when it
/// is dropped.
#[must_use = "await `done()`: dropping a wait cancels its timer"]
pub(super) struct Wait {
    done: Promise,
    wake: Function,
    _timer: Timeout,
}

impl Wait {
    fn new(ms: u32) -> Option<Self> {
        let mut wake = None;
        let done = Promise::new(&mut |resolve, _| wake = Some(resolve));
        let wake = wake?;
        let on_time = wake.clone();
        let timer = Timeout::new(ms, move || {
            let _ = on_time.call0(&JsValue::NULL);
        });
        Some(Wait {
            done,
            wake,
            _timer: timer,
        })
    }

    /// Resolves when the time is up or an urgent job came.
    pub async fn done(self) {
        let Wait { done, _timer, .. } = self;
        let _ = JsFuture::from(done).await;
    }
}
