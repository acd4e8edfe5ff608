//! A browser WebSocket with its handlers; dropping it detaches them and closes it.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What the socket reports.
pub enum SocketEvent {
    /// Connected.
    Open,
    /// A text frame.
    Text(String),
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
            if let Some(text) = event.data().as_string() {
                h(SocketEvent::Text(text));
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
