//! A browser WebSocket with its handlers; dropping it detaches them and closes it.

use js_sys::JsString;
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

/// An open (or opening) WebSocket.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url`; `handler` receives every event until the socket is dropped.
    pub fn open(url: &str, handler: impl Fn(SocketEvent) + 'static) -> Result<Socket, String> {
        let ws = WebSocket::new(url).map_err(|_| format!("cannot open a WebSocket to {url}"))?;
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

    /// Writes a text frame; false if the socket is not open.
    pub fn send(&self, text: &str) -> bool {
        self.ws.send_with_str(text).is_ok()
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
