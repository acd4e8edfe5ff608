//! The ClawChat REST API (PROTOCOL.md §1): envelope decoding, error kinds, refresh
//! classification and request building. Pure: the platform layer runs the requests.

mod bodies;
mod envelope;
mod error;
mod refresh;
mod request;
mod resources;

pub use bodies::{activate_body, create_chat_body, sign_in_body, AccountSession};
pub use envelope::{decode_response, parse_envelope, Envelope};
pub use error::{ApiError, ApiErrorKind};
pub use refresh::{
    classify_refresh, refresh_request, HttpOutcome, RefreshResult, TokenPair, CODE_BAD_REQUEST,
    CODE_INTERNAL, CODE_INVALID_REFRESH, REFRESH_PATH,
};
pub use request::{
    history_path, user_profile_path, BaseUrl, Credentials, HttpRequest, Method, REQUEST_TIMEOUT_MS,
};
pub use resources::{history_items, UploadAnswer};
