//! The tags routes (Mailpit's `server/apiv1/tags.go` shapes): list, set on messages, rename and
//! delete. The rules for a tag's text are in [`crate::tags`]; the store keeps the counts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{json, uuids};
use crate::http::respond;
use crate::store::TagError;

#[derive(Debug, Deserialize)]
struct SetTags {
    #[serde(rename = "Tags", default)]
    tags: Vec<String>,
    #[serde(rename = "IDs", default)]
    ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Rename {
    #[serde(rename = "Name")]
    name: String,
}

impl From<TagError> for AppError {
    fn from(error: TagError) -> AppError {
        // Mailpit answers 400 to each of these.
        AppError::BadRequest(error.to_string())
    }
}

/// GET /api/v1/tags: every tag in use, sorted.
pub async fn list(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(state.store.tags())
}

/// PUT /api/v1/tags `{"Tags":[…],"IDs":[…]}`: the listed messages get exactly these tags (an
/// empty list removes them all).
pub async fn set(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let request: SetTags = json(&body)?;
    state
        .store
        .set_tags(uuids(&request.ids), request.tags)
        .await;
    Ok(respond::ok())
}

/// PUT /api/v1/tags/{tag} `{"Name":"…"}`: renames the tag on every message.
pub async fn rename(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let request: Rename = json(&body)?;
    state.store.rename_tag(tag, request.name).await?;
    Ok(respond::ok())
}

/// DELETE /api/v1/tags/{tag}: removes the tag from every message.
pub async fn delete(
    State(state): State<AppState>,
    Path(tag): Path<String>,
) -> Result<Response, AppError> {
    state.store.delete_tag(tag).await?;
    Ok(respond::ok())
}
