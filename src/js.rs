//! The JavaScript surface (wasm-bindgen exports).

use wasm_bindgen::prelude::*;

use crate::protocol::ids;

/// Mints a fresh `msg-<ULID>` message id from the browser clock and Web Crypto.
#[wasm_bindgen(js_name = mintMessageId)]
pub fn mint_message_id() -> Result<String, JsError> {
    let random =
        ids::random_u128().ok_or_else(|| JsError::new("secure random source unavailable"))?;
    Ok(ids::message_id(js_sys::Date::now() as u64, random))
}

/// The version of this package.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
