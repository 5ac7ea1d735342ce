//! Who may use the HTTP surface: the origin policy ([`super::origin`]) in front of everything, then
//! optional HTTP Basic auth over the UI and API (the exact health-check paths stay open for
//! probes).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::origin::{self, OriginPolicy};
use crate::passwords::Passwords;

/// Verified `Authorization` values remembered (as hashes) so that bcrypt, slow on purpose, runs
/// once per credential rather than on every request the UI makes.
const VERIFIED_CACHE: usize = 1024;

struct BasicAuth {
    passwords: Arc<Passwords>,
    verified: Mutex<HashSet<[u8; 32]>>,
    webroot: String,
}

/// Wraps `app` with Basic auth (when `passwords` is set), and the origin policy around that.
pub fn protect(
    app: Router,
    passwords: Option<Arc<Passwords>>,
    policy: Arc<OriginPolicy>,
) -> Router {
    let mut app = app;
    if let Some(passwords) = passwords {
        let auth = Arc::new(BasicAuth {
            passwords,
            verified: Mutex::new(HashSet::new()),
            webroot: policy.webroot().to_string(),
        });
        app = app.layer(middleware::from_fn_with_state(auth, require_login));
    }
    // Outside the auth layer: browsers send CORS preflights without credentials, and a refused
    // origin must not learn whether its credentials were right.
    app.layer(middleware::from_fn_with_state(policy, origin::enforce))
}

async fn require_login(
    State(auth): State<Arc<BasicAuth>>,
    request: Request,
    next: Next,
) -> Response {
    if origin::is_health_path(&auth.webroot, request.uri().path()) {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    if let Some(header) = header
        && verify(&auth, header).await
    {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"mailsnare\", charset=\"UTF-8\"",
        )],
        Body::from("authentication required"),
    )
        .into_response()
}

async fn verify(auth: &Arc<BasicAuth>, header: Vec<u8>) -> bool {
    let key: [u8; 32] = Sha256::digest(&header).into();
    if auth
        .verified
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(&key)
    {
        return true;
    }
    let Some((user, password)) = crate::http::extract::basic_credentials(&header) else {
        return false;
    };
    let checker = Arc::clone(auth);
    let ok = tokio::task::spawn_blocking(move || checker.passwords.verify(&user, &password))
        .await
        .unwrap_or(false);
    if ok {
        let mut verified = auth.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_CACHE {
            verified.clear();
        }
        verified.insert(key);
    }
    ok
}
