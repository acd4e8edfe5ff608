//! A browser WebSocket with its handlers; dropping it detaches them and closes it.

use js_sys::{Array, Function, JsString, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::protocol::MAX_FRAME_BYTES;

/// What the socket reports.
pub enum SocketEvent {
    /// Connected.
    Open,
    /// A text frame.
    Text(String),
    /// A frame that was not copied into wasm: binary, or a text longer than
    /// [`MAX_FRAME_BYTES`] (measured in the JS string, before any copy).
    Refused,
    /// Closed (or failed to connect), with the close code.
    Closed(u16),
}

/// Why no socket was opened.
pub enum OpenError {
    /// The runtime has no global `WebSocket` and no transport was given: retrying
    /// cannot help.
    NoWebSocket,
    /// The constructor threw (e.g. a malformed URL).
    Failed(String),
}

/// Whether the runtime has a global `WebSocket` (Node 20 has none).
fn has_global_websocket() -> bool {
    Reflect::get(&js_sys::global(), &"WebSocket".into()).is_ok_and(|c| c.is_function())
}

/// An open (or opening) WebSocket.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url` with `transport` (a WebSocket class with the browser API, such as the
    /// `ws` package's) or else the global `WebSocket`; `handler` receives every event
    /// until the socket is dropped.
    pub fn open(
        url: &str,
        transport: Option<&Function>,
        handler: impl Fn(SocketEvent) + 'static,
    ) -> Result<Socket, OpenError> {
        let ws = match transport {
            Some(class) => Reflect::construct(class, &Array::of1(&url.into()))
                .map(JsCast::unchecked_into::<WebSocket>),
            None if !has_global_websocket() => return Err(OpenError::NoWebSocket),
            None => WebSocket::new(url),
        }
        .map_err(|_| OpenError::Failed(format!("cannot open a WebSocket to {url}")))?;
        let handler = std::rc::Rc::new(handler);
        let h = handler.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || h(SocketEvent::Open));
        let h = handler.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            let fits = data
                .dyn_ref::<JsString>()
                // UTF-8 takes at least one byte per UTF-16 unit: longer is too large.
                .is_some_and(|s| s.length() as usize <= MAX_FRAME_BYTES);
            match fits.then(|| data.as_string()).flatten() {
                Some(text) => h(SocketEvent::Text(text)),
                None => h(SocketEvent::Refused),
            }
        });
        let h = handler;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            h(SocketEvent::Closed(event.code()))
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Writes a text frame; if the runtime throws (a socket still connecting, or one
    /// workerd refuses because another request opened it), the thrown message.
    pub fn send(&self, text: &str) -> Result<(), String> {
        self.ws.send_with_str(text).map_err(|thrown| {
            Reflect::get(&thrown, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .or_else(|| thrown.as_string())
                .unwrap_or_else(|| "the runtime threw".into())
        })
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
