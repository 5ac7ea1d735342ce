//! EXT `/mcp`: a Model Context Protocol server (Streamable HTTP, the official Rust SDK) for coding
//! agents: list and search messages, read one, wait for one, take its links and codes, delete.
//! It is a route like any other, so the HTTP auth and the origin policy apply, and under
//! `/mailbox/{name}/mcp` it sees that mailbox alone. Tool results stay small: summaries, bounded
//! text, ids.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::AppState;
use super::error::AppError;
use crate::message::StoredMessage;

/// Most summaries one `list_messages` call returns.
pub const MAX_LIST: usize = 50;
/// Characters of a body a `get_message` call returns by default, and at most.
pub const DEFAULT_TEXT_CHARS: usize = 8_000;
pub const MAX_TEXT_CHARS: usize = 100_000;
/// The longest `wait_for_message` may wait, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 120;
/// Most header fields a `get_message` call returns.
const MAX_HEADERS: usize = 100;

/// The MCP service for `state` (a mailbox's state gives a mailbox's service).
pub fn service(state: AppState) -> StreamableHttpService<Mcp, LocalSessionManager> {
    // Stateless and plain JSON: every call stands alone, nothing is kept between requests.
    // Hosts and origins are the origin policy's to check, before the request gets here.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .disable_allowed_hosts()
        .disable_allowed_origins();
    StreamableHttpService::new(
        move || Ok(Mcp::new(state.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// One MCP server over the store of an [`AppState`].
#[derive(Clone)]
pub struct Mcp {
    state: AppState,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListArgs {
    /// A search in mailsnare's language: words (ANDed), "a phrase", -word, from:, to:, cc:,
    /// subject:, tag:, is:unread, has:attachment, before:/after: dates. Empty lists everything.
    #[serde(default)]
    pub query: String,
    /// How many, newest first (default 20, at most 50).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct GetArgs {
    /// The message's ID (from list_messages), or "latest".
    pub id: String,
    /// Characters of each body to return (default 8000, at most 100000).
    #[serde(default)]
    pub max_chars: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct WaitArgs {
    /// The search the message must match, e.g. "to:alice@example.com subject:welcome".
    #[serde(default)]
    pub query: String,
    /// Seconds to wait for it (default 30, at most 120).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Only messages stored after this message ID or RFC 3339 time.
    #[serde(default)]
    pub since: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct IdArgs {
    /// The message's ID, or "latest".
    pub id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct DeleteArgs {
    /// The IDs to delete.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Delete every message instead (ids must then be empty).
    #[serde(default)]
    pub all: bool,
}

/// A message as the tools list it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Listed {
    #[serde(rename = "ID")]
    id: Uuid,
    from: String,
    to: Vec<String>,
    subject: String,
    created: String,
    read: bool,
    snippet: String,
    attachments: usize,
}

fn addresses(list: &[crate::message::Address]) -> Vec<String> {
    list.iter().map(address).collect()
}

fn address(a: &crate::message::Address) -> String {
    if a.name.is_empty() {
        a.address.clone()
    } else {
        format!("{} <{}>", a.name, a.address)
    }
}

fn listed(m: &StoredMessage) -> Listed {
    let s = &m.summary;
    Listed {
        id: m.id,
        from: s.from.as_ref().map(address).unwrap_or_default(),
        to: addresses(&s.to),
        subject: s.subject.clone(),
        created: m
            .created
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        read: m.is_read(),
        snippet: s.snippet(&m.raw),
        attachments: s.attachments,
    }
}

/// `text` cut at `max` characters, saying so.
fn bounded(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((cut, _)) => (text[..cut].to_string(), true),
        None => (text.to_string(), false),
    }
}

fn json_text(value: &impl Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("cannot serialize the result: {e}"))
}

fn app_error(e: AppError) -> String {
    e.to_string()
}

#[tool_router]
impl Mcp {
    fn new(state: AppState) -> Mcp {
        Mcp {
            state,
            tool_router: Self::tool_router(),
        }
    }

    fn find(&self, id: &str) -> Result<Arc<StoredMessage>, String> {
        if id == "latest" {
            return self
                .state
                .store
                .latest()
                .ok_or_else(|| "there are no messages".to_string());
        }
        super::extract::found(&self.state.store, id).map_err(app_error)
    }

    #[tool(
        description = "List captured messages, newest first, optionally filtered by a search (from:, to:, subject:, words). Returns at most 50 summaries: ID, From, To, Subject, Created, Read, Snippet, Attachments, and the total that matched."
    )]
    async fn list_messages(
        &self,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<String, String> {
        let limit = args.limit.unwrap_or(20).clamp(1, MAX_LIST);
        let query = crate::search::Query::parse_within(&args.query, &self.state.options.search)
            .map_err(|e| e.to_string())?;
        let (total, page) = self
            .state
            .store
            .scan(move |all| {
                let mut total = 0;
                let mut page = Vec::new();
                for m in all.messages() {
                    if query.matches(m) {
                        total += 1;
                        if page.len() < limit {
                            page.push(listed(m));
                        }
                    }
                }
                (total, page)
            })
            .await;
        json_text(&json!({ "Total": total, "Messages": page }))
    }

    #[tool(
        description = "Read one message: its headers (From, To, Cc, Subject, Date), its text body, its HTML body converted to text, its other header fields and its SMTP envelope. Bodies are cut at max_chars (default 8000). Marks the message read."
    )]
    async fn get_message(&self, Parameters(args): Parameters<GetArgs>) -> Result<String, String> {
        let message = self.find(&args.id)?;
        let max = args
            .max_chars
            .unwrap_or(DEFAULT_TEXT_CHARS)
            .clamp(1, MAX_TEXT_CHARS);
        self.state.store.set_read(vec![message.id], true).await;
        let id = message.id;
        let envelope = json!({
            "MailFrom": message.envelope.mail_from,
            "RcptTo": message.envelope.rcpt_to,
            "Helo": message.envelope.helo,
            "Client": message.envelope.client_addr.map(|a| a.to_string()),
            "AuthUser": message.envelope.auth_user,
        });
        let value = crate::store::read(message, move |m| {
            let summary = listed(m);
            let (text, html) = m.parsed(|parsed| {
                let Some(p) = parsed else {
                    return (String::new(), String::new());
                };
                let html = crate::mime::html(p);
                let html_text = if html.is_empty() {
                    String::new()
                } else {
                    crate::mime::html::html_to_text(&html)
                };
                (crate::mime::text(p), html_text)
            });
            let (head, _) = crate::mime::headers::split_headers(&m.raw);
            let fields: Vec<serde_json::Value> = head
                .iter()
                .take(MAX_HEADERS)
                .map(|h| {
                    let (value, _) = bounded(&crate::mime::headers::decode_value(&h.value), 1000);
                    json!([h.name, value])
                })
                .collect();
            let (text, text_cut) = bounded(&text, max);
            let (html, html_cut) = bounded(&html, max);
            json!({
                "ID": id,
                "From": summary.from,
                "To": summary.to,
                "Cc": addresses(&m.summary.cc),
                "Subject": summary.subject,
                "Date": summary.created,
                "Text": text,
                "TextTruncated": text_cut,
                "HTMLAsText": html,
                "HTMLTruncated": html_cut,
                "Headers": fields,
                "Attachments": summary.attachments,
            })
        })
        .await;
        let mut value = value;
        value["Envelope"] = envelope;
        json_text(&value)
    }

    #[tool(
        description = "Wait for a message matching a search to arrive (or return the newest match at once if there is one), then return its summary with its links and likely one-time codes. query like \"to:alice@example.com\"; timeout_seconds default 30, at most 120; since: a message ID or RFC 3339 time to ignore older mail."
    )]
    async fn wait_for_message(
        &self,
        Parameters(args): Parameters<WaitArgs>,
    ) -> Result<String, String> {
        let wait = args.timeout_seconds.unwrap_or(30).min(MAX_WAIT_SECONDS);
        let message = super::mailpit::messages::wait_for(
            &self.state,
            Some(args.query),
            Some(wait.to_string()),
            args.since,
        )
        .await
        .map_err(app_error)?;
        let summary = listed(&message);
        let extracted = crate::store::read(message, crate::extraction::extract).await;
        json_text(
            &json!({ "Message": summary, "Links": extracted.links, "Codes": extracted.codes }),
        )
    }

    #[tool(
        description = "The links of a message (URL, the text shown, the visible URL of a tracking link) and its likely one-time codes, best first. Use it to find a confirmation link or a verification code."
    )]
    async fn extract_links_and_codes(
        &self,
        Parameters(args): Parameters<IdArgs>,
    ) -> Result<String, String> {
        let message = self.find(&args.id)?;
        let id = message.id;
        let extracted = crate::store::read(message, crate::extraction::extract).await;
        json_text(&json!({ "ID": id, "Links": extracted.links, "Codes": extracted.codes }))
    }

    #[tool(
        description = "Delete messages by ID, or every message with all=true. Returns how many were deleted."
    )]
    async fn delete_messages(
        &self,
        Parameters(args): Parameters<DeleteArgs>,
    ) -> Result<String, String> {
        let deleted = match (args.all, args.ids.is_empty()) {
            (true, true) => self.state.store.clear().await,
            (true, false) => return Err("give ids or all=true, not both".into()),
            (false, true) => return Err("give the ids to delete (or all=true)".into()),
            (false, false) => {
                let mut ids = Vec::with_capacity(args.ids.len());
                for id in &args.ids {
                    ids.push(Uuid::parse_str(id).map_err(|_| format!("not a message ID: {id:?}"))?);
                }
                self.state.store.delete(ids).await
            }
        };
        json_text(&json!({ "Deleted": deleted }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Mcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mailsnare", env!("CARGO_PKG_VERSION")))
            .with_instructions(
            "mailsnare catches the mail an application sends in tests. Use wait_for_message to wait \
             for a mail (e.g. query \"to:alice@example.com\") and get its links and codes in one call; \
             list_messages and get_message to read; delete_messages to clean up.",
        )
    }
}
