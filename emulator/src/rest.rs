//! The REST API with `{code,msg,data}` envelopes (PROTOCOL.md §1).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use clawchat_wasm::api::{CODE_BAD_REQUEST, CODE_INTERNAL, CODE_INVALID_REFRESH};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::db::{DbResult, MediaRow, RefreshCheck};
use crate::faults::RefreshFault;
use crate::grace::Reuse;
use crate::state::{device_belongs, new_id, random_token, AppState, Counters};

/// Envelope code: no such resource (ours).
pub const CODE_NOT_FOUND: i64 = 40401;
/// Envelope code: conflict, e.g. a nickname taken (ours).
pub const CODE_CONFLICT: i64 = 40901;

type Shared = Arc<AppState>;

/// Envelope code: the `x-device-id` header names another device than the token (ours).
pub const CODE_DEVICE_MISMATCH: i64 = 40301;

/// The REST routes (the `/v1/dev/*` ones unless `--no-dev-sign-in`).
pub fn routes(config: &Config) -> Router<Shared> {
    let router = Router::new();
    let router = if config.no_dev_sign_in {
        router.route("/v1/dev/{*rest}", any(dev_routes_off))
    } else {
        router
            .route("/v1/dev/sign-in", post(sign_in))
            .route("/v1/dev/activation-codes", post(create_activation_code))
    };
    router
        .route("/v1/agents/connect", post(activate))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/users/me", get(me).patch(update_me))
        .route("/v1/users/{id}", get(user))
        .route("/v1/friendships", get(friends))
        .route("/v1/chats", get(list_chats).post(create_chat))
        .route("/v1/chats/{id}/members", get(chat_members))
        .route("/v1/chats/{id}/messages", get(crate::history::page))
        .route("/media/upload", post(upload))
        .route("/media/{id}", get(media))
}

/// What every `/v1/dev/*` path answers under `--no-dev-sign-in`.
async fn dev_routes_off() -> Response {
    fail(
        StatusCode::NOT_FOUND,
        CODE_NOT_FOUND,
        "development routes are turned off (--no-dev-sign-in)",
    )
}

/// `{code: 0, msg: "ok", data}` with HTTP 200.
pub(crate) fn ok(data: impl serde::Serialize) -> Response {
    Json(json!({ "code": 0, "msg": "ok", "data": data })).into_response()
}

/// A business error envelope with a matching HTTP status.
pub(crate) fn fail(status: StatusCode, code: i64, msg: &str) -> Response {
    (
        status,
        Json(json!({ "code": code, "msg": msg, "data": null })),
    )
        .into_response()
}

pub(crate) fn internal(err: rusqlite::Error) -> Response {
    tracing::error!(%err, "storage error");
    fail(
        StatusCode::INTERNAL_SERVER_ERROR,
        CODE_INTERNAL,
        "internal error",
    )
}

pub(crate) fn bad_request(msg: &str) -> Response {
    fail(StatusCode::BAD_REQUEST, CODE_BAD_REQUEST, msg)
}

/// A JSON request body; anything unparsable is refused with a code-400 envelope.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| bad_request("unreadable body"))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|_| bad_request("invalid JSON body"))
    }
}

fn reply<T: serde::Serialize>(result: DbResult<T>) -> Response {
    result.map(ok).unwrap_or_else(internal)
}

/// The authenticated caller. A missing or bad token is refused with HTTP 401 and no
/// envelope (the `auth` kind); an `x-device-id` header that names another device than
/// the token's `did` (or a sibling of it) with 403 and code [`CODE_DEVICE_MISMATCH`].
pub struct Caller {
    /// The user the token was issued to.
    pub user_id: String,
    /// The device the token is bound to.
    pub device_id: String,
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| StatusCode::UNAUTHORIZED.into_response())?;
        let claims = state
            .signer
            .verify(token, state.now_secs())
            .map_err(|_| StatusCode::UNAUTHORIZED.into_response())?;
        if let Some(device) = parts.headers.get("x-device-id") {
            let device = device.to_str().unwrap_or_default();
            if !device_belongs(device, &claims.did) {
                return Err(fail(
                    StatusCode::FORBIDDEN,
                    CODE_DEVICE_MISMATCH,
                    "x-device-id does not match the token's device",
                ));
            }
        }
        Ok(Caller {
            user_id: claims.sub,
            device_id: claims.did,
        })
    }
}

fn websocket_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8787");
    format!("ws://{host}/ws")
}

/// The account a sign-in or activation returns.
fn account(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    device_id: &str,
    ttl_secs: u64,
) -> Response {
    let user = match state.db.user(user_id) {
        Ok(Some(user)) => user,
        Ok(None) => return fail(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "no such user"),
        Err(err) => return internal(err),
    };
    match state.issue_tokens(user_id, device_id, ttl_secs) {
        Ok(tokens) => ok(json!({
            "user_id": user.id,
            "nickname": user.nickname,
            "device_id": device_id,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at_ms,
            "activated_at": state.now_ms(),
            "websocket_url": websocket_url(headers),
        })),
        Err(err) => internal(err),
    }
}

fn valid_name(name: &str) -> bool {
    let name = name.trim();
    !name.is_empty() && name.chars().count() <= 64
}

#[derive(Deserialize)]
struct SignIn {
    nickname: String,
    device_id: Option<String>,
    ttl_secs: Option<u64>,
}

/// Dev sign-in (ours): the user named `nickname`, created on first use.
async fn sign_in(
    State(state): State<Shared>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<SignIn>,
) -> Response {
    if !valid_name(&request.nickname) {
        return bad_request("nickname must be 1-64 characters");
    }
    let user = match state.db.user_by_nickname_or_create(
        request.nickname.trim(),
        &new_id("u"),
        state.now_ms(),
    ) {
        Ok(user) => user,
        Err(err) => return internal(err),
    };
    let device_id = request
        .device_id
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| new_id("web"));
    let ttl = request
        .ttl_secs
        .unwrap_or(state.config.token_ttl_secs)
        .clamp(1, 30 * 24 * 3600);
    account(&state, &headers, &user.id, device_id.trim(), ttl)
}

#[derive(Deserialize)]
struct CodeRequest {
    nickname: String,
}

/// Dev helper (ours): a one-time activation code for the user named `nickname`.
async fn create_activation_code(
    State(state): State<Shared>,
    JsonBody(request): JsonBody<CodeRequest>,
) -> Response {
    if !valid_name(&request.nickname) {
        return bad_request("nickname must be 1-64 characters");
    }
    let result = state
        .db
        .user_by_nickname_or_create(request.nickname.trim(), &new_id("u"), state.now_ms())
        .and_then(|user| {
            let code = random_token(6);
            state
                .db
                .insert_activation_code(&code, &user.id)
                .map(|_| json!({"code": code, "user_id": user.id}))
        });
    reply(result)
}

#[derive(Deserialize)]
struct Activate {
    code: String,
}

/// `POST /v1/agents/connect`: trade a one-time code for an account.
async fn activate(
    State(state): State<Shared>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<Activate>,
) -> Response {
    let device_id = headers
        .get("x-device-id")
        .and_then(|v| v.to_str().ok())
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim().to_owned())
        .unwrap_or_else(|| new_id("web"));
    match state.db.use_activation_code(request.code.trim()) {
        Ok(Some(user_id)) => account(
            &state,
            &headers,
            &user_id,
            &device_id,
            state.config.token_ttl_secs,
        ),
        Ok(None) => fail(
            StatusCode::BAD_REQUEST,
            CODE_NOT_FOUND,
            "unknown or used activation code",
        ),
        Err(err) => internal(err),
    }
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

/// `POST /v1/auth/refresh` per PROTOCOL.md §1.1: always HTTP 200 when answering properly.
async fn refresh(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    Counters::bump(&state.counters.refresh_calls);
    if let Some((fault, hang_ms)) = state.faults.take_refresh() {
        tracing::info!(?fault, "refresh fault injected");
        let hang = std::time::Duration::from_millis(hang_ms);
        let refused = match fault {
            RefreshFault::Http500 => {
                Some((StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response())
            }
            RefreshFault::Code1 => Some(fail(StatusCode::OK, CODE_INTERNAL, "internal error")),
            RefreshFault::Garbage => {
                Some((StatusCode::OK, "<html>not an envelope</html>").into_response())
            }
            RefreshFault::Hang => {
                tokio::time::sleep(hang).await;
                Some(fail(StatusCode::OK, CODE_INTERNAL, "answered after a hang"))
            }
            RefreshFault::Slow => {
                tokio::time::sleep(hang).await;
                None
            }
        };
        if let Some(response) = refused {
            return response;
        }
    }
    let Ok(request) = serde_json::from_slice::<RefreshBody>(&body) else {
        return fail(StatusCode::OK, CODE_BAD_REQUEST, "invalid body");
    };
    let Some(device_id) = headers
        .get("x-device-id")
        .and_then(|v| v.to_str().ok())
        .filter(|d| !d.is_empty())
    else {
        return fail(StatusCode::OK, CODE_BAD_REQUEST, "missing x-device-id");
    };
    rotate(&state, request.refresh_token.trim(), device_id)
}

/// Spends `token` for `device_id` and answers with the new pair, or, for a token spent
/// moments ago, with the same pair again while its grace window lasts (see
/// [`crate::grace`]). The window is locked across the spend so a concurrent reuse
/// cannot slip between the spend and its record.
fn rotate(state: &AppState, token: &str, device_id: &str) -> Response {
    let digest = crate::db::digest(token);
    let now_ms = state.now_ms();
    let mut grace = state.grace();
    let tokens = match state.db.spend_refresh(token, device_id) {
        Ok(RefreshCheck::Rotated {
            user_id,
            device_id,
            ttl_secs,
        }) => match state.issue_tokens(&user_id, &device_id, ttl_secs) {
            Ok(tokens) => {
                grace.record(digest, &device_id, &tokens, now_ms);
                tokens
            }
            Err(err) => {
                tracing::error!(%err, "storage error issuing rotated tokens");
                return fail(StatusCode::OK, CODE_INTERNAL, "internal error");
            }
        },
        Ok(RefreshCheck::Invalid) => match grace.reuse(&digest, device_id, now_ms) {
            Reuse::Same(tokens) => tokens,
            Reuse::DeviceMismatch => {
                return fail(StatusCode::OK, CODE_BAD_REQUEST, "device id mismatch")
            }
            Reuse::Refused => {
                return fail(
                    StatusCode::OK,
                    CODE_INVALID_REFRESH,
                    "invalid refresh token",
                )
            }
        },
        Ok(RefreshCheck::DeviceMismatch) => {
            return fail(StatusCode::OK, CODE_BAD_REQUEST, "device id mismatch")
        }
        Err(err) => {
            tracing::error!(%err, "storage error spending a refresh token");
            return fail(StatusCode::OK, CODE_INTERNAL, "internal error");
        }
    };
    ok(json!({
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at_ms,
    }))
}

async fn me(caller: Caller, State(state): State<Shared>) -> Response {
    match state.db.user(&caller.user_id) {
        Ok(Some(user)) => ok(json!({
            "id": user.id, "nickname": user.nickname, "avatar_url": user.avatar_url,
            "bio": user.bio, "device_id": caller.device_id,
        })),
        Ok(None) => fail(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "no such user"),
        Err(err) => internal(err),
    }
}

#[derive(Deserialize)]
struct ProfilePatch {
    nickname: Option<String>,
    avatar_url: Option<String>,
    bio: Option<String>,
}

async fn update_me(
    caller: Caller,
    State(state): State<Shared>,
    JsonBody(patch): JsonBody<ProfilePatch>,
) -> Response {
    if patch.nickname.is_none() && patch.avatar_url.is_none() && patch.bio.is_none() {
        return bad_request("nothing to update");
    }
    if patch.nickname.as_deref().is_some_and(|n| !valid_name(n)) {
        return bad_request("nickname must be 1-64 characters");
    }
    let nickname = patch.nickname.as_deref().map(str::trim);
    match state.db.update_user(
        &caller.user_id,
        nickname,
        patch.avatar_url.as_deref(),
        patch.bio.as_deref(),
    ) {
        Ok(true) => reply(state.db.user(&caller.user_id)),
        Ok(false) => fail(StatusCode::CONFLICT, CODE_CONFLICT, "nickname taken"),
        Err(err) => internal(err),
    }
}

async fn user(_caller: Caller, State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match state.db.user(&id) {
        Ok(Some(user)) => ok(user),
        Ok(None) => fail(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "no such user"),
        Err(err) => internal(err),
    }
}

/// Everyone is everyone's friend in the emulator.
async fn friends(caller: Caller, State(state): State<Shared>) -> Response {
    reply(state.db.other_users(&caller.user_id))
}

async fn list_chats(caller: Caller, State(state): State<Shared>) -> Response {
    reply(state.db.chats_of(&caller.user_id))
}

#[derive(Deserialize)]
struct NewChat {
    #[serde(rename = "type")]
    kind: String,
    member_ids: Vec<String>,
    #[serde(default)]
    name: String,
}

async fn create_chat(
    caller: Caller,
    State(state): State<Shared>,
    JsonBody(request): JsonBody<NewChat>,
) -> Response {
    let mut members = request.member_ids.clone();
    members.push(caller.user_id.clone());
    members.sort();
    members.dedup();
    for member in &members {
        match state.db.user(member) {
            Ok(Some(_)) => {}
            Ok(None) => return fail(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "no such user"),
            Err(err) => return internal(err),
        }
    }
    match request.kind.as_str() {
        "direct" if members.len() == 2 => {}
        "group" if members.len() >= 2 => {}
        _ => {
            return bad_request("a direct chat has exactly one other member; a group at least one")
        }
    }
    if request.name.chars().count() > 64 {
        return bad_request("name must be at most 64 characters");
    }
    reply(state.db.create_chat(
        &new_id("c"),
        &request.kind,
        request.name.trim(),
        &members,
        state.now_ms(),
    ))
}

async fn chat_members(
    caller: Caller,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Response {
    match state.db.members(&id) {
        Ok(members) if members.contains(&caller.user_id) => {
            let users: DbResult<Vec<_>> = members
                .iter()
                .filter_map(|m| state.db.user(m).transpose())
                .collect();
            reply(users)
        }
        Ok(_) => fail(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "no such chat"),
        Err(err) => internal(err),
    }
}

/// `POST /media/upload`: one multipart field `file`, stored on disk, served at `/media/{id}`.
async fn upload(caller: Caller, State(state): State<Shared>, mut multipart: Multipart) -> Response {
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return bad_request("missing multipart field `file`"),
            Err(_) => return bad_request("invalid multipart body"),
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .unwrap_or("upload")
            .chars()
            .take(128)
            .collect::<String>();
        let mime = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let Ok(bytes) = field.bytes().await else {
            return bad_request("upload too large or interrupted");
        };
        let id = new_id("m");
        if let Err(err) = tokio::fs::write(state.media_dir.join(&id), &bytes).await {
            tracing::error!(%err, "media write failed");
            return fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                CODE_INTERNAL,
                "storage error",
            );
        }
        if let Err(err) = state.db.insert_media(
            &id,
            &caller.user_id,
            &name,
            &mime,
            bytes.len() as u64,
            state.now_ms(),
        ) {
            return internal(err);
        }
        return ok(
            json!({ "url": format!("/media/{id}"), "mime": mime, "size": bytes.len(), "name": name }),
        );
    }
}

/// Upload types served inline (shown by an `<img>`); everything else is a download.
/// SVG is not among them: it can carry script.
const INLINE_MEDIA_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The headers an upload is served with: inline only for [`INLINE_MEDIA_TYPES`] (with
/// that exact type), otherwise an `application/octet-stream` attachment; always
/// `nosniff` and a sandboxing CSP, so nothing uploaded runs as the demo's origin.
fn media_headers(row: &MediaRow) -> [(header::HeaderName, String); 4] {
    let mime = row.mime.trim().to_ascii_lowercase();
    let (content_type, disposition) = if INLINE_MEDIA_TYPES.contains(&mime.as_str()) {
        (mime, "inline".to_owned())
    } else {
        let name: String = row
            .name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
            .collect();
        let name = if name.trim().is_empty() {
            "upload"
        } else {
            name.trim()
        };
        (
            "application/octet-stream".to_owned(),
            format!("attachment; filename=\"{name}\""),
        )
    };
    [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
    ]
}

async fn media(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let row = match state.db.media(&id) {
        Ok(Some(row)) => row,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(err) => return internal(err),
    };
    match tokio::fs::read(state.media_dir.join(&id)).await {
        Ok(bytes) => (media_headers(&row), bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
