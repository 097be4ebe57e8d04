//! Query strings into `trove_protocol`'s typed parameter structs.
//!
//! Every route reads its query through [`query`] (`serde_urlencoded` under
//! `web::Query`): a malformed, repeated or mistyped parameter is
//! `invalid_request`. This module does not know which route asks.

use crate::error::ApiError;
use actix_web::{web, HttpRequest};
use serde::de::DeserializeOwned;

/// The query string of `req` as `T`.
pub(crate) fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::invalid_request(format!("bad query string: {e}")))
}

/// As [`query`], and no parameter may be empty: the audit routes document
/// every parameter as non-empty, and an empty one must not silently mean
/// "absent" (a window without its end, an export of every hunt).
pub(crate) fn query_non_empty<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = query(req)?;
    if let Some((k, _)) = pairs.iter().find(|(_, v)| v.is_empty()) {
        return Err(ApiError::invalid_request(format!("parameter {k} is empty")));
    }
    query(req)
}

/// Largest `limit` of a leaderboard query.
pub(crate) const MAX_LEADERBOARD_LIMIT: u64 = 1000;
/// `limit` of a leaderboard query that gives none.
pub(crate) const DEFAULT_LEADERBOARD_LIMIT: u64 = 10;
