//! The web UI: files under `web/`, embedded in the binary, served with a strict
//! Content-Security-Policy (no inline script; captured HTML only ever inside sandboxed frames).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
#[exclude = "*.test.*"]
struct Assets;

/// The UI's own policy. Scripts and styles come only from us; mail HTML is shown through
/// `/view/…` in frames that carry their own sandboxing policy.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'self'";

/// GET / : the UI's entry page.
pub async fn index() -> Response {
    asset("index.html")
}

/// GET /ui/{*path}: a static file of the UI.
pub async fn file(Path(path): Path<String>) -> Response {
    asset(&path)
}

fn asset(path: &str) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    (
        [
            (header::CONTENT_TYPE, mime.essence_str().to_string()),
            (header::CONTENT_SECURITY_POLICY, UI_CSP.to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::REFERRER_POLICY, "no-referrer".to_string()),
            // The UI is small and changes with the binary; always revalidate.
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        file.data.into_owned(),
    )
        .into_response()
}
