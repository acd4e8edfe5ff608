//! Cross-tab coordination: the Web Locks API for one refresh at a time across the
//! origin, and a BroadcastChannel to tell other tabs of a rotation or a logout.

use std::future::Future;

use js_sys::{Function, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{BroadcastChannel, MessageEvent};

/// What tabs tell each other. Never carries a token: tabs re-read the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TabMessage {
    /// The pair was rotated and persisted: load it and reconnect.
    Rotated,
    /// The account was logged out.
    LoggedOut {
        /// Why (the refresh code, or 0 for an explicit logout).
        code: i64,
        /// Why, in words.
        reason: String,
    },
}

fn locks() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then_some(locks)
}

/// True when the Web Locks API is available.
pub fn has_web_locks() -> bool {
    locks().is_some()
}

/// Runs `work` while holding the exclusive Web Lock `name` (other tabs wait). Without
/// Web Locks, runs it directly (the caller's in-tab single flight still applies).
pub async fn with_lock<F>(name: &str, work: F) -> Result<JsValue, JsValue>
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let Some(locks) = locks() else {
        return work.await;
    };
    let request = Reflect::get(&locks, &"request".into())?.dyn_into::<Function>()?;
    let mut work = Some(work);
    let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
        match work.take() {
            Some(work) => future_to_promise(work),
            None => Promise::resolve(&JsValue::UNDEFINED),
        }
    });
    let promise = request
        .call2(&locks, &name.into(), &callback)?
        .dyn_into::<Promise>()?;
    JsFuture::from(promise).await
}

/// A BroadcastChannel for one account, with its listener.
pub struct TabChannel {
    channel: BroadcastChannel,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

impl TabChannel {
    /// Joins the channel `name`; `on_message` receives what other tabs post.
    pub fn join(
        name: &str,
        mut on_message: impl FnMut(TabMessage) + 'static,
    ) -> Option<TabChannel> {
        let channel = BroadcastChannel::new(name).ok()?;
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Ok(message) = serde_wasm_bindgen::from_value::<TabMessage>(event.data()) {
                on_message(message);
            }
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        Some(TabChannel {
            channel,
            _listener: listener,
        })
    }

    /// Tells every other tab.
    pub fn post(&self, message: &TabMessage) {
        let value = message
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .unwrap_or(JsValue::NULL);
        let _ = self.channel.post_message(&value);
    }
}

impl Drop for TabChannel {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
