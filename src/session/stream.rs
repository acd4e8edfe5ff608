//! Assembly of streamed messages (`message.created/add/done/failed`) into one evolving
//! message per `message_id`.

#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

use crate::json::{ToJson, Writer};
use crate::protocol::bounds::MAX_FRAGMENTS;
use crate::protocol::{Fragment, StreamPayload, StreamPhase};
use crate::small_map::SmallMap;

use super::dedupe::DedupeWindow;
use super::inbound::{plain_text, Origin};

/// How many finished stream ids are remembered to drop late frames (**ours**).
const FINISHED_WINDOW: usize = 512;
/// Most fragments one streamed message may grow to (the bound of a message body).
pub const MAX_STREAM_FRAGMENTS: usize = MAX_FRAGMENTS;
/// Most streams alive at once (**ours**): a chat has one or two agents streaming; a
/// peer opening more is refused rather than allowed to grow memory.
pub const MAX_LIVE_STREAMS: usize = 16;
/// Largest streamed message, in bytes of its fragments (**ours**; about 60k words).
pub const MAX_STREAM_BYTES: usize = 256 * 1024;
/// The least time between two `stream` events of one message (**ours**): about a
/// display frame. Updates in between are folded into the next event, which carries the
/// message as it then stands; a final one (done, failed) goes out at once.
pub const MIN_EVENT_GAP_MS: i64 = 16;
/// Bytes of the live streams per millisecond between two events of one (**ours**): each
/// event carries the whole message so far, so events go out less often as the messages
/// grow. The client's stream events then carry about 1 MB of text a second at most
/// (more where JSON escapes it), however a server rewrites its streams (each rewrite of
/// a fragment of a large message would otherwise be a whole event).
const EVENT_BYTES_PER_MS: usize = 512;

/// The time between two events of a stream while the live streams hold `bytes`.
fn event_gap_ms(bytes: usize) -> i64 {
    i64::try_from(bytes / EVENT_BYTES_PER_MS)
        .unwrap_or(i64::MAX)
        .max(MIN_EVENT_GAP_MS)
}

/// Why a streaming frame was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSkip {
    /// Late, repeated or out of order: normal on a real network.
    Stale,
    /// A frame no honest sender produces, or one past a bound; the app is told.
    Refused(&'static str),
}

/// Where a stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Still growing.
    Streaming,
    /// Finished.
    Done,
    /// Failed, or stalled without `done`.
    Failed,
}

/// The current state of a streamed message, as the app sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamView {
    /// The message id.
    pub message_id: String,
    /// Chat, chat type and sender.
    pub origin: Origin,
    /// The fragments so far.
    pub fragments: Vec<Fragment>,
    /// Their plain text.
    pub text: String,
    /// Streaming, done or failed.
    pub status: StreamStatus,
    /// The last applied sequence number.
    pub sequence: u64,
    /// Why it failed, when it did.
    pub reason: Option<String>,
}

impl ToJson for StreamStatus {
    fn write(&self, w: &mut Writer) {
        w.string(match self {
            StreamStatus::Streaming => "streaming",
            StreamStatus::Done => "done",
            StreamStatus::Failed => "failed",
        });
    }
}

/// The `stream` event (camelCase keys; write it camel-cased, like
/// [`super::InboundMessage`]).
impl ToJson for StreamView {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("messageId", &self.message_id);
        self.origin.write_fields(&mut o);
        o.field("fragments", &self.fragments)
            .field("text", &self.text)
            .field("status", &self.status)
            .field("sequence", &self.sequence)
            .field("reason", &self.reason);
        o.end();
    }
}

#[derive(Debug)]
struct Stream {
    /// The message so far (its `text` as of the last event while updates are held).
    view: StreamView,
    /// When a frame last changed it (the stall clock).
    updated_at: i64,
    /// When its last event went out, if one did.
    emitted_at: Option<i64>,
    /// When its held updates go out as an event, if it holds any: set when the first
    /// is held, so that later ones do not move it.
    due: Option<i64>,
    /// The bytes of its fragments.
    bytes: usize,
}

impl Stream {
    /// After a change at `now`: its event, if its last one is `gap_ms` old (or there was
    /// none); else the change is held until then.
    fn changed(&mut self, now: i64, gap_ms: i64) -> Option<StreamView> {
        match self.emitted_at.map(|at| at.saturating_add(gap_ms)) {
            Some(next) if now < next => {
                self.due.get_or_insert(next);
                None
            }
            _ => Some(self.emit(now)),
        }
    }

    /// The event of it now: its view with its text brought up to date.
    fn emit(&mut self, now: i64) -> StreamView {
        self.emitted_at = Some(now);
        self.due = None;
        self.view.text = plain_text(&self.view.fragments);
        self.view.clone()
    }
}

/// Live streams by message id.
#[derive(Debug)]
pub struct StreamAssembler {
    streams: SmallMap<String, Stream>,
    finished: DedupeWindow,
    stall_ms: i64,
    /// `add` frames whose `delta` disagreed with the cumulative text (the text wins).
    pub delta_mismatches: u64,
    /// `add` frames dropped because their target index lay past the end of the message.
    pub rejected_mutations: u64,
}

impl StreamAssembler {
    /// Streams silent for `stall_ms` are failed by [`StreamAssembler::on_tick`].
    pub fn new(stall_ms: i64) -> Self {
        StreamAssembler {
            streams: SmallMap::default(),
            finished: DedupeWindow::new(FINISHED_WINDOW),
            stall_ms,
            delta_mismatches: 0,
            rejected_mutations: 0,
        }
    }

    /// Applies one streaming frame; returns the event to deliver, `None` when the update
    /// is held for a later one (see [`MIN_EVENT_GAP_MS`]), or why it was skipped. A
    /// stream that grows past [`MAX_STREAM_BYTES`] is failed (and reported failed).
    pub fn apply(
        &mut self,
        origin: Origin,
        phase: StreamPhase,
        payload: StreamPayload,
        now: i64,
    ) -> Result<Option<StreamView>, StreamSkip> {
        if self.finished.contains(&payload.message_id) {
            return Err(StreamSkip::Stale);
        }
        if !self.streams.contains_key(&payload.message_id) && self.streams.len() >= MAX_LIVE_STREAMS
        {
            return Err(StreamSkip::Refused("too many live streams"));
        }
        let stream = self
            .streams
            .get_or_insert_with(payload.message_id.clone(), || Stream {
                view: StreamView {
                    message_id: payload.message_id.clone(),
                    origin,
                    fragments: Vec::new(),
                    text: String::new(),
                    status: StreamStatus::Streaming,
                    sequence: 0,
                    reason: None,
                },
                updated_at: now,
                emitted_at: None,
                due: None,
                bytes: 0,
            });
        let view = &mut stream.view;
        let terminal = matches!(phase, StreamPhase::Done | StreamPhase::Failed);
        if view.status != StreamStatus::Streaming
            || (!terminal && view.sequence > 0 && payload.sequence <= view.sequence)
        {
            return Err(StreamSkip::Stale);
        }
        match phase {
            StreamPhase::Created => view.fragments = payload.fragments,
            StreamPhase::Add => {
                let target = payload
                    .mutation
                    .as_ref()
                    .map_or(Some(0), |m| usize::try_from(m.target_fragment_index).ok())
                    .unwrap_or(usize::MAX);
                if let Some(fragment) = payload.fragments.into_iter().next() {
                    if let (
                        Some(Fragment::Text { text: old, .. }),
                        Fragment::Text {
                            text: new,
                            delta: Some(delta),
                        },
                    ) = (view.fragments.get(target), &fragment)
                    {
                        let joined = old.len().checked_add(delta.len()) == Some(new.len());
                        if !(joined
                            && new.starts_with(old.as_str())
                            && new.ends_with(delta.as_str()))
                        {
                            self.delta_mismatches = self.delta_mismatches.saturating_add(1);
                        }
                    }
                    let fragment = strip_delta(fragment);
                    let len = view.fragments.len();
                    match view.fragments.get_mut(target) {
                        Some(slot) => *slot = fragment,
                        // Appending one fragment at the end is the only way to grow;
                        // any index past it is a hostile or broken frame.
                        None if target == len && len < MAX_STREAM_FRAGMENTS => {
                            view.fragments.push(fragment)
                        }
                        None => {
                            self.rejected_mutations = self.rejected_mutations.saturating_add(1);
                            return Err(StreamSkip::Refused(
                                "streaming fragment index past the end of the message",
                            ));
                        }
                    }
                }
            }
            StreamPhase::Done => {
                view.status = StreamStatus::Done;
                if !payload.fragments.is_empty() {
                    view.fragments = payload.fragments.into_iter().map(strip_delta).collect();
                }
            }
            StreamPhase::Failed => {
                view.status = StreamStatus::Failed;
                view.reason = Some("the sender reported a failure".into());
            }
        }
        view.sequence = view.sequence.max(payload.sequence);
        let bytes = view
            .fragments
            .iter()
            .map(Fragment::approx_bytes)
            .fold(0, usize::saturating_add);
        let too_large = view.fragments.len() > MAX_STREAM_FRAGMENTS || bytes > MAX_STREAM_BYTES;
        if too_large {
            view.fragments.truncate(MAX_STREAM_FRAGMENTS);
            view.status = StreamStatus::Failed;
            view.reason = Some("the streamed message grew too large".into());
        }
        (stream.updated_at, stream.bytes) = (now, bytes);
        let id = payload.message_id;
        if terminal || too_large {
            self.finished.first_sighting(&id);
            return Ok(self.streams.remove(&id).map(|mut ended| ended.emit(now)));
        }
        let gap_ms = event_gap_ms(self.live_bytes());
        Ok(self
            .streams
            .get_mut(&id)
            .and_then(|stream| stream.changed(now, gap_ms)))
    }

    /// Ends the stream of `message_id` without an event (the message itself came): its
    /// held updates are dropped, and its later frames are stale.
    pub fn end(&mut self, message_id: &str) {
        if self.streams.remove(message_id).is_some() {
            self.finished.first_sighting(message_id);
        }
    }

    /// The bytes the live streams hold.
    fn live_bytes(&self) -> usize {
        self.streams
            .iter()
            .map(|(_, s)| s.bytes)
            .fold(0, usize::saturating_add)
    }

    /// When the earliest held update is due as an event ([`StreamAssembler::flush`]).
    pub fn poll_timeout(&self) -> Option<i64> {
        self.streams.iter().filter_map(|(_, s)| s.due).min()
    }

    /// The events of the held updates due by `now`; of all of them with `None` (the
    /// connection stops: each is sent as of its last change).
    pub fn flush(&mut self, now: Option<i64>) -> Vec<StreamView> {
        let picked: Vec<String> = self
            .streams
            .iter()
            .filter(|(_, s)| s.due.is_some_and(|due| now.is_none_or(|now| due <= now)))
            .map(|(id, _)| id.clone())
            .collect();
        let mut events = Vec::with_capacity(picked.len());
        for id in &picked {
            if let Some(stream) = self.streams.get_mut(id) {
                let at = now.unwrap_or(stream.updated_at);
                events.push(stream.emit(at));
            }
        }
        events
    }

    /// Fails streams that have been silent for the stall time (a missing `done`), and
    /// sends the held updates that are due (should their timer be late).
    pub fn on_tick(&mut self, now: i64) -> Vec<StreamView> {
        let mut events = self.fail_stalled(now);
        events.extend(self.flush(Some(now)));
        events
    }

    /// Fails streams that have been silent for the stall time.
    fn fail_stalled(&mut self, now: i64) -> Vec<StreamView> {
        let stall_ms = self.stall_ms;
        let stalled: Vec<String> = self
            .streams
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.updated_at) >= stall_ms)
            .map(|(id, _)| id.clone())
            .collect();
        stalled
            .into_iter()
            .filter_map(|id| {
                self.finished.first_sighting(&id);
                self.streams.remove(&id)
            })
            .map(|mut s| {
                s.view.status = StreamStatus::Failed;
                s.view.reason = Some(format!("no update for {} s", stall_ms / 1000));
                s.emit(now)
            })
            .collect()
    }
}

fn strip_delta(fragment: Fragment) -> Fragment {
    match fragment {
        Fragment::Text { text, .. } => Fragment::Text { text, delta: None },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChatType;
    use serde_json::json;

    fn origin() -> Origin {
        Origin {
            chat_id: "c".into(),
            chat_type: ChatType::Direct,
            sender_id: "bot".into(),
            sender_name: "Bot".into(),
        }
    }

    fn payload(seq: u64, fragments: serde_json::Value) -> StreamPayload {
        crate::json::from_str(&json!({"message_id": "s1", "sequence": seq, "mutation": {"type": "append", "target_fragment_index": 0}, "fragments": fragments}).to_string()).unwrap()
    }

    fn text(t: &str, d: &str) -> serde_json::Value {
        json!([{"kind": "text", "text": t, "delta": d}])
    }

    /// The event an applied frame gives at once.
    fn event(applied: Result<Option<StreamView>, StreamSkip>) -> StreamView {
        applied.expect("applied").expect("an event at once")
    }

    /// A frame time past the gap of every small message.
    const LATER: i64 = MIN_EVENT_GAP_MS;

    #[test]
    fn created_add_done_grow_one_message() {
        let mut a = StreamAssembler::new(60_000);
        let v = event(a.apply(
            origin(),
            StreamPhase::Created,
            payload(1, json!([{"kind": "text", "text": ""}])),
            0,
        ));
        assert_eq!((v.status, v.text.as_str()), (StreamStatus::Streaming, ""));
        let v = event(a.apply(
            origin(),
            StreamPhase::Add,
            payload(2, text("He", "He")),
            LATER,
        ));
        assert_eq!(v.text, "He");
        let v = event(a.apply(
            origin(),
            StreamPhase::Add,
            payload(3, text("Hello", "llo")),
            2 * LATER,
        ));
        assert_eq!(v.text, "Hello");
        let done = event(a.apply(
            origin(),
            StreamPhase::Done,
            payload(4, json!([])),
            3 * LATER,
        ));
        assert_eq!(
            (done.status, done.text.as_str(), done.sequence),
            (StreamStatus::Done, "Hello", 4)
        );
        assert_eq!(
            a.apply(
                origin(),
                StreamPhase::Add,
                payload(5, text("late", "x")),
                4 * LATER
            ),
            Err(StreamSkip::Stale)
        );
        assert_eq!(a.delta_mismatches, 0);
    }

    #[test]
    fn updates_within_the_gap_are_held_and_the_next_event_carries_them() {
        let mut a = StreamAssembler::new(60_000);
        let first = event(a.apply(origin(), StreamPhase::Add, payload(1, text("a", "a")), 100));
        assert_eq!(first.text, "a");
        assert_eq!(a.poll_timeout(), None, "nothing held");
        for (seq, t) in [(2, "ab"), (3, "abc")] {
            let held = a.apply(origin(), StreamPhase::Add, payload(seq, text(t, "x")), 105);
            assert_eq!(held, Ok(None));
        }
        assert_eq!(a.poll_timeout(), Some(100 + MIN_EVENT_GAP_MS));
        assert!(a.flush(Some(100 + MIN_EVENT_GAP_MS - 1)).is_empty());
        let due = a.flush(Some(100 + MIN_EVENT_GAP_MS));
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].text.as_str(), due[0].sequence), ("abc", 3));
        assert_eq!(a.poll_timeout(), None);
        assert!(a.flush(Some(1_000)).is_empty(), "sent once");
        // Within the gap of the event just sent, a frame is held; the final one never
        // waits.
        let held = a.apply(
            origin(),
            StreamPhase::Add,
            payload(4, text("abcd", "d")),
            120,
        );
        assert_eq!(held, Ok(None));
        let done = event(a.apply(origin(), StreamPhase::Done, payload(5, json!([])), 121));
        assert_eq!(
            (done.status, done.text.as_str()),
            (StreamStatus::Done, "abcd")
        );
        assert_eq!(a.poll_timeout(), None, "an ended stream holds nothing");
    }

    #[test]
    fn a_large_message_goes_out_less_often_and_the_tick_sends_what_is_held() {
        let mut a = StreamAssembler::new(60_000);
        let big = "x".repeat(100 * 1024);
        event(a.apply(origin(), StreamPhase::Add, payload(1, text(&big, "x")), 0));
        let bigger = format!("{big}y");
        let held = a.apply(
            origin(),
            StreamPhase::Add,
            payload(2, text(&bigger, "y")),
            LATER,
        );
        assert_eq!(held, Ok(None), "100 KiB: 200 ms between events");
        assert_eq!(a.poll_timeout(), Some(event_gap_ms(bigger.len())));
        assert_eq!(event_gap_ms(bigger.len()), 200);
        assert!(a.on_tick(199).is_empty());
        let ticked = a.on_tick(200);
        assert_eq!((ticked.len(), ticked[0].text.len()), (1, bigger.len()));
        assert_eq!(event_gap_ms(0), MIN_EVENT_GAP_MS);
        assert_eq!(
            event_gap_ms(usize::MAX),
            i64::try_from(usize::MAX / 512).unwrap()
        );
    }

    #[test]
    fn every_live_stream_counts_toward_the_gap_so_many_cannot_multiply_the_rate() {
        let mut a = StreamAssembler::new(60_000);
        let small = |seq: u64, t: &str| -> StreamPayload {
            crate::json::from_str(
                &json!({"message_id": "s2", "sequence": seq,
                "fragments": [{"kind": "text", "text": t}]})
                .to_string(),
            )
            .unwrap()
        };
        event(a.apply(origin(), StreamPhase::Add, small(1, "hi"), 0));
        let alone = event(a.apply(origin(), StreamPhase::Add, small(2, "hi there"), LATER));
        assert_eq!(
            alone.text, "hi there",
            "alone, a small stream's gap is short"
        );
        let big = "x".repeat(100 * 1024);
        event(a.apply(
            origin(),
            StreamPhase::Add,
            payload(1, text(&big, "x")),
            2 * LATER,
        ));
        let held = a.apply(
            origin(),
            StreamPhase::Add,
            small(3, "hi there you"),
            3 * LATER,
        );
        assert_eq!(
            held,
            Ok(None),
            "beside 100 KiB, its gap is the live streams' 200 ms"
        );
        assert_eq!(a.poll_timeout(), Some(LATER + 200));
    }

    #[test]
    fn a_stream_ended_by_its_message_drops_what_it_held_and_takes_no_more() {
        let mut a = StreamAssembler::new(60_000);
        event(a.apply(origin(), StreamPhase::Add, payload(1, text("a", "a")), 0));
        let held = a.apply(origin(), StreamPhase::Add, payload(2, text("ab", "b")), 1);
        assert_eq!(held, Ok(None));
        a.end("s1");
        assert_eq!(a.poll_timeout(), None, "nothing held");
        assert!(a.flush(None).is_empty());
        assert_eq!(
            a.apply(
                origin(),
                StreamPhase::Add,
                payload(3, text("abc", "c")),
                LATER
            ),
            Err(StreamSkip::Stale)
        );
        a.end("never-streamed");
    }

    #[test]
    fn out_of_order_adds_are_dropped_and_cumulative_text_repairs_gaps() {
        let mut a = StreamAssembler::new(60_000);
        event(a.apply(origin(), StreamPhase::Add, payload(3, text("abc", "c")), 0));
        assert_eq!(
            a.apply(
                origin(),
                StreamPhase::Add,
                payload(2, text("ab", "b")),
                LATER
            ),
            Err(StreamSkip::Stale)
        );
        let v = event(a.apply(
            origin(),
            StreamPhase::Add,
            payload(5, text("abcde", "e")),
            2 * LATER,
        ));
        assert_eq!(v.text, "abcde", "a missing add (seq 4) does not lose text");
        assert_eq!(a.delta_mismatches, 1, "abc + e != abcde is counted");
    }

    #[test]
    fn a_stream_without_done_fails_after_the_stall_time() {
        let mut a = StreamAssembler::new(1_000);
        event(a.apply(origin(), StreamPhase::Created, payload(1, json!([])), 0));
        let held = a.apply(
            origin(),
            StreamPhase::Add,
            payload(2, text("late", "late")),
            1,
        );
        assert_eq!(held, Ok(None));
        assert_eq!(a.flush(Some(LATER)).len(), 1);
        assert!(a.on_tick(999).is_empty());
        let stalled = a.on_tick(1_001);
        assert_eq!(
            (stalled.len(), stalled[0].status, stalled[0].text.as_str()),
            (1, StreamStatus::Failed, "late")
        );
        assert!(a.on_tick(5_000).is_empty());
    }

    fn add_at(seq: u64, index: u64) -> StreamPayload {
        crate::json::from_str(
            &json!({"message_id": "s1", "sequence": seq,
            "mutation": {"type": "append", "target_fragment_index": index},
            "fragments": [{"kind": "text", "text": "x"}]})
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn a_target_index_past_the_end_is_dropped_not_trusted() {
        let mut a = StreamAssembler::new(60_000);
        event(a.apply(origin(), StreamPhase::Created, payload(1, json!([])), 0));
        // The first regression: u32::MAX wrapped `target + 1` and indexed out of bounds.
        for (seq, index) in [(2, u64::from(u32::MAX)), (3, 5_000_000), (4, 2)] {
            assert!(matches!(
                a.apply(origin(), StreamPhase::Add, add_at(seq, index), 1),
                Err(StreamSkip::Refused(_))
            ));
        }
        assert_eq!(a.rejected_mutations, 3);
        let v = event(a.apply(origin(), StreamPhase::Add, add_at(5, 0), LATER));
        assert_eq!(v.fragments.len(), 1);
        let v = event(a.apply(origin(), StreamPhase::Add, add_at(6, 1), 2 * LATER));
        assert_eq!((v.fragments.len(), v.text.as_str()), (2, "xx"));
    }

    fn created(id: &str) -> StreamPayload {
        crate::json::from_str(
            &json!({"message_id": id, "sequence": 1, "fragments": []}).to_string(),
        )
        .unwrap()
    }

    #[test]
    fn live_streams_are_capped_and_a_finished_one_frees_its_place() {
        let mut a = StreamAssembler::new(60_000);
        for i in 0..MAX_LIVE_STREAMS {
            assert!(a
                .apply(origin(), StreamPhase::Created, created(&format!("s{i}")), 0)
                .is_ok());
        }
        assert!(matches!(
            a.apply(origin(), StreamPhase::Created, created("one-more"), 0),
            Err(StreamSkip::Refused(_))
        ));
        event(a.apply(origin(), StreamPhase::Done, created("s0"), 1));
        assert!(a
            .apply(origin(), StreamPhase::Created, created("one-more"), 2)
            .is_ok());
    }

    #[test]
    fn a_stream_growing_past_its_byte_bound_is_failed_and_forgotten() {
        let mut a = StreamAssembler::new(60_000);
        let chunk = "x".repeat(MAX_STREAM_BYTES / 4);
        let mut last = None;
        for seq in 1..=5u64 {
            let text = chunk.repeat(seq as usize);
            let p = payload(seq, json!([{"kind": "text", "text": text}]));
            last = Some(a.apply(origin(), StreamPhase::Add, p, 0));
        }
        let failed = event(last.unwrap());
        assert_eq!(failed.status, StreamStatus::Failed);
        assert!(a.streams.is_empty(), "a failed stream holds no memory");
    }

    #[test]
    fn failed_is_terminal() {
        let mut a = StreamAssembler::new(1_000);
        event(a.apply(origin(), StreamPhase::Created, payload(1, json!([])), 0));
        let v = event(a.apply(origin(), StreamPhase::Failed, payload(2, json!([])), 0));
        assert_eq!(v.status, StreamStatus::Failed);
        assert!(v.reason.is_some());
    }
}
