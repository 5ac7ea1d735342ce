//! Who may use the HTTP surface: the origin policy ([`super::origin`]) in front of everything, then
//! optional HTTP Basic auth over the UI and API (the exact health-check paths stay open for
//! probes), and the send API's own credentials when it has them (Mailpit's `--send-api-auth-*`).

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
use crate::mailbox::MailboxName;
use crate::passwords::Passwords;

/// Verified `Authorization` values remembered (as hashes) so that bcrypt, slow on purpose, runs
/// once per credential rather than on every request the UI makes.
const VERIFIED_CACHE: usize = 1024;

/// Who may call `POST /api/v1/send`.
#[derive(Debug, Clone, Default)]
pub enum SendAuth {
    /// Whoever may use the rest of the API.
    #[default]
    AsUi,
    /// Only these credentials (and then not the UI's).
    Credentials(Arc<Passwords>),
    /// Anyone, with any credentials or none, even when the UI needs a password.
    AcceptAny,
}

/// Who may use the HTTP surface.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Basic auth over the UI and API; none means open.
    pub ui: Option<Arc<Passwords>>,
    pub send: SendAuth,
}

struct BasicAuth {
    access: Access,
    verified: Mutex<HashSet<[u8; 32]>>,
    webroot: String,
}

/// Wraps `app` with Basic auth (when any credentials are set), and the origin policy around that.
pub fn protect(app: Router, access: Access, policy: Arc<OriginPolicy>) -> Router {
    let mut app = app;
    if access.ui.is_some() || matches!(access.send, SendAuth::Credentials(_)) {
        let auth = Arc::new(BasicAuth {
            access,
            verified: Mutex::new(HashSet::new()),
            webroot: policy.webroot().to_string(),
        });
        // Around the router as a whole, not its routes: a user kept to one mailbox has its root
        // requests rewritten to that mailbox before they are routed.
        let inner = tower::ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(auth, require_login))
            .service(app);
        app = Router::new().fallback_service(inner);
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
    let path = request.uri().path();
    if origin::is_health_path(&auth.webroot, path) {
        return next.run(request).await;
    }
    let send = path == format!("{}/api/v1/send", auth.webroot);
    let passwords = match (&auth.access.send, &auth.access.ui) {
        (SendAuth::AcceptAny, _) if send => None,
        (SendAuth::Credentials(passwords), _) if send => Some(passwords),
        (_, ui) => ui.as_ref(),
    };
    let Some(passwords) = passwords else {
        return next.run(request).await;
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    if let Some(header) = header
        && verify(&auth, Arc::clone(passwords), send, header.clone()).await
    {
        let scope = crate::http::extract::basic_credentials(&header)
            .and_then(|(user, _)| passwords.mailboxes_of(&user).map(<[_]>::to_vec));
        return match scope {
            Some(names) if !send => match scoped(request, &names, &auth.webroot) {
                Scoped::Pass(request) => next.run(request).await,
                Scoped::Answer(answer) => answer,
            },
            _ => next.run(request).await,
        };
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

/// The mailboxes a restricted user may see, for the routes that list them.
#[derive(Debug, Clone)]
pub struct AllowedMailboxes(pub Vec<MailboxName>);

/// What becomes of a restricted user's request: on to the router (perhaps rewritten), or
/// answered here.
enum Scoped {
    Pass(Request),
    Answer(Response),
}

/// A request of a user restricted to `names` (a team): its mailboxes' routes pass, others' are
/// refused, and the root view is its mailbox (one) or the team view of them (several).
fn scoped(mut request: Request, names: &[MailboxName], webroot: &str) -> Scoped {
    let full = request.uri().path().to_string();
    let path = full.strip_prefix(webroot).unwrap_or(&full).to_string();
    let refuse = |what: String| {
        (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "Error": what })),
        )
            .into_response()
    };
    request
        .extensions_mut()
        .insert(AllowedMailboxes(names.to_vec()));
    // A route of one mailbox: its pages and API, or the EXT route that changes it.
    let named = path
        .strip_prefix("/mailbox/")
        .map(|rest| (rest.split('/').next().unwrap_or_default(), "see"))
        .or_else(|| {
            path.strip_prefix("/api/v1/mailboxes/")
                .map(|name| (name, "change"))
        });
    if let Some((name, verb)) = named {
        return if MailboxName::new(name).is_some_and(|n| names.contains(&n)) {
            Scoped::Pass(request)
        } else {
            Scoped::Answer(refuse(format!("this user may not {verb} mailbox {name:?}")))
        };
    }
    let shared =
        path == "/api/v1/mailboxes" || path.starts_with("/ui/") || path == "/api/v1/openapi.json";
    if shared {
        return Scoped::Pass(request);
    }
    // The root view of a user with one mailbox is that mailbox; with several, the team view of
    // them all (every message they hold, once).
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let target = match names {
        [only] => format!("{webroot}/mailbox/{only}{path}{query}"),
        _ => format!("{webroot}/.team{path}{query}"),
    };
    match target.parse() {
        Ok(uri) => {
            *request.uri_mut() = uri;
            Scoped::Pass(request)
        }
        Err(_) => Scoped::Answer(refuse("invalid path".into())),
    }
}

/// Checks a Basic-auth header against `passwords`; `send` keeps the send API's verified
/// credentials apart from the UI's in the cache.
async fn verify(auth: &BasicAuth, passwords: Arc<Passwords>, send: bool, header: Vec<u8>) -> bool {
    let key: [u8; 32] = Sha256::new()
        .chain_update([u8::from(send)])
        .chain_update(&header)
        .finalize()
        .into();
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
    let ok = tokio::task::spawn_blocking(move || passwords.verify(&user, &password))
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
