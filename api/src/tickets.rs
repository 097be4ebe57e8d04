//! One-use WebSocket tickets for browsers.
//!
//! A browser cannot set `Authorization` on a WebSocket, and a key in the
//! URL ends up in history and proxy logs. So a page asks `POST
//! /v1/ws/ticket` with its key in the header and opens `GET
//! /v1/ws?ticket=T`. A ticket carries the role of the key that asked for it,
//! is valid once and for [`TICKET_TTL`], and at most [`MAX_TICKETS`] are
//! outstanding (beyond, `overloaded`): the table is bounded whatever clients
//! do. Tickets are kept by their BLAKE3 hash, as keys are, and live only in
//! memory: a restart invalidates them.

use crate::auth::Role;
use crate::error::ApiError;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use trove_protocol::ErrorCode;

/// How long a ticket stays valid.
pub(crate) const TICKET_TTL: Duration = Duration::from_secs(30);
/// Most tickets outstanding at once.
pub(crate) const MAX_TICKETS: usize = 1024;

#[derive(Default)]
pub(crate) struct Tickets {
    by_hash: Mutex<HashMap<[u8; 32], (Role, Instant)>>,
}

impl Tickets {
    /// A new ticket for `role`, or `overloaded` when [`MAX_TICKETS`] are
    /// outstanding (expired ones are dropped first).
    pub(crate) fn issue(&self, role: Role) -> Result<String, ApiError> {
        self.issue_at(role, Instant::now())
    }

    fn issue_at(&self, role: Role, now: Instant) -> Result<String, ApiError> {
        let mut table = self.by_hash.lock();
        if table.len() >= MAX_TICKETS {
            table.retain(|_, (_, expires)| *expires > now);
        }
        if table.len() >= MAX_TICKETS {
            return Err(ApiError::new(
                ErrorCode::Overloaded,
                format!("{MAX_TICKETS} WebSocket tickets are outstanding; use one or wait for them to expire"),
            ));
        }
        let ticket = crate::auth::new_key();
        table.insert(hash(&ticket), (role, now + TICKET_TTL));
        Ok(ticket)
    }

    /// The role of `ticket`, which is spent; `unauthorized` if it is
    /// unknown, spent or expired.
    pub(crate) fn redeem(&self, ticket: &str) -> Result<Role, ApiError> {
        self.redeem_at(ticket, Instant::now())
    }

    fn redeem_at(&self, ticket: &str, now: Instant) -> Result<Role, ApiError> {
        match self.by_hash.lock().remove(&hash(ticket)) {
            Some((role, expires)) if expires > now => Ok(role),
            _ => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "unknown, used or expired WebSocket ticket: ask POST /v1/ws/ticket for a new one",
            )),
        }
    }
}

fn hash(ticket: &str) -> [u8; 32] {
    *blake3::hash(ticket.as_bytes()).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_works_once_and_only_before_it_expires() {
        let t = Tickets::default();
        let now = Instant::now();
        let a = t.issue_at(Role::Auditor, now).unwrap();
        assert_eq!(t.redeem_at(&a, now).unwrap(), Role::Auditor);
        assert!(t.redeem_at(&a, now).is_err(), "spent");
        let b = t.issue_at(Role::Game, now).unwrap();
        assert!(t.redeem_at(&b, now + TICKET_TTL).is_err(), "expired");
        assert!(t.redeem_at("made-up", now).is_err());
    }

    #[test]
    fn outstanding_tickets_are_bounded_and_expired_ones_make_room() {
        let t = Tickets::default();
        let now = Instant::now();
        for _ in 0..MAX_TICKETS {
            t.issue_at(Role::Game, now).unwrap();
        }
        let e = t.issue_at(Role::Game, now).unwrap_err();
        assert_eq!(e.code, ErrorCode::Overloaded);
        assert!(t.issue_at(Role::Game, now + TICKET_TTL).is_ok());
    }
}
