//! Web-facing defences of both listeners, for a dev tool running on a developer's
//! machine: the `Host` header must name this listener (DNS-rebinding defence), an
//! `Origin` header must be this listener's own origin or one allowed by a flag (so a
//! site the developer visits cannot drive the emulator, not even with a "simple"
//! request CORS would let through), CORS headers go to the allowed origins only, and
//! the demo page gets a strict Content-Security-Policy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer, ExposeHeaders};

/// Which `Host` and `Origin` values one listener accepts, and which origins get CORS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    hosts: Vec<String>,
    origins: Vec<String>,
    cors_origins: Vec<String>,
}

impl Policy {
    /// The policy of the listener bound at `addr`: its own hosts plus `extra_hosts`, its
    /// own origins plus `cors_origins`, which also get CORS headers.
    pub fn new(addr: SocketAddr, extra_hosts: &[String], cors_origins: &[String]) -> Self {
        let mut hosts = own_hosts(addr);
        hosts.extend(extra_hosts.iter().map(|h| h.to_ascii_lowercase()));
        let cors_origins: Vec<String> = cors_origins.iter().map(|o| normalise_origin(o)).collect();
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
        origins.extend(cors_origins.iter().cloned());
        Policy {
            hosts,
            origins,
            cors_origins,
        }
    }

    /// True when `host` (a `Host` header value) names this listener.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// True when a request from a page of `origin` may be served.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Wraps `router` with the Host and Origin checks and CORS for the allowed origins.
    pub fn apply<S: Clone + Send + Sync + 'static>(self, router: Router<S>) -> Router<S> {
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(
                self.cors_origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok()),
            ))
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(ExposeHeaders::any())
            .max_age(std::time::Duration::from_secs(600));
        router
            .layer(cors)
            .layer(middleware::from_fn_with_state(Arc::new(self), check))
    }
}

/// `host:port` forms under which a listener at `addr` is reached.
fn own_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let literal = match addr.ip() {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    };
    let mut hosts = vec![literal];
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        for name in ["127.0.0.1", "localhost", "[::1]"] {
            hosts.push(format!("{name}:{port}"));
        }
    }
    if port == 80 {
        let bare: Vec<String> = hosts
            .iter()
            .filter_map(|h| h.strip_suffix(":80").map(str::to_owned))
            .collect();
        hosts.extend(bare);
    }
    hosts.dedup();
    hosts
}

/// An origin as browsers send it: no trailing slash, lower-case.
fn normalise_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn check(State(policy): State<Arc<Policy>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    match header(headers, header::HOST) {
        Some(host) if policy.host_allowed(host) => {}
        _ => {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                "this Host is not served here",
            )
                .into_response()
        }
    }
    if headers.contains_key(header::ORIGIN) {
        match header(headers, header::ORIGIN) {
            Some(origin) if policy.origin_allowed(origin) => {}
            _ => return (StatusCode::FORBIDDEN, "this Origin is not allowed").into_response(),
        }
    }
    next.run(request).await
}

/// The demo page's Content-Security-Policy for a page served as `host`: scripts only
/// from the page's origin (plus WebAssembly compilation), no inline script, no plugins,
/// no framing, network only to its own origin over HTTP and WebSocket, images from the
/// origin (uploads included), blobs and data URLs.
pub fn demo_csp(host: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' blob: data:; connect-src 'self' ws://{host}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Middleware for the static files of the demo: adds [`demo_csp`] and `nosniff`. The
/// `Host` has already been checked, so it is safe to name in the policy.
pub async fn with_demo_csp(request: Request, next: Next) -> Response {
    let host = header(request.headers(), header::HOST)
        .unwrap_or("127.0.0.1")
        .to_owned();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&demo_csp(&host)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_loopback_listener_accepts_its_loopback_names_and_nothing_else() {
        let policy = Policy::new(addr("127.0.0.1:8787"), &[], &[]);
        for ok in [
            "127.0.0.1:8787",
            "localhost:8787",
            "LOCALHOST:8787",
            "[::1]:8787",
        ] {
            assert!(policy.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.test:8787",
            "127.0.0.1:8788",
            "localhost",
            "127.0.0.1",
            "",
        ] {
            assert!(!policy.host_allowed(bad), "{bad}");
        }
        assert!(policy.origin_allowed("http://localhost:8787"));
        assert!(!policy.origin_allowed("http://localhost:9000"));
        assert!(!policy.origin_allowed("null"));
    }

    #[test]
    fn flags_add_hosts_and_cors_origins() {
        let policy = Policy::new(
            addr("192.168.1.5:80"),
            &["dev.local:80".into()],
            &["http://127.0.0.1:9000/".into()],
        );
        assert!(policy.host_allowed("192.168.1.5"));
        assert!(policy.host_allowed("dev.local:80"));
        assert!(!policy.host_allowed("localhost:80"));
        assert!(policy.origin_allowed("http://127.0.0.1:9000"));
        assert_eq!(policy.cors_origins, vec!["http://127.0.0.1:9000"]);
    }

    #[test]
    fn the_demo_policy_allows_no_inline_script_and_names_its_socket() {
        let csp = demo_csp("127.0.0.1:8787");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:8787;"));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"));
    }
}
