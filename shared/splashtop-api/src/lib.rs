//! Splashtop's team API as splashsync speaks it: the contract in `docs/splashtop-api.md`,
//! shared by the worker (the client) and `splashtop-sim` (the server), so the two cannot
//! drift apart.
//!
//! # Layout
//! - [`wire`]: the request and answer bodies ([`TeamUser`], [`TeamGroup`], [`InviteUser`],
//!   [`UpdateUser`], the list envelopes…), the path prefix and the tracing headers.
//! - [`error`]: the `{"error":{"code","message"}}` body ([`ErrorBody`]) and the known
//!   error codes ([`ErrorCode`]).
//! - `client` (feature `client`, on by default): what a client asks of a team
//!   ([`TeamApi`]), how failures are classified for retries ([`ApiError`], [`classify`]),
//!   and [`HttpTeamApi`], the reqwest implementation.

#[cfg(feature = "client")]
pub mod client;
pub mod error;
pub mod wire;

#[cfg(feature = "client")]
pub use client::{
    classify, ApiError, CallContext, CallObserver, HttpTeamApi, TeamApi, UserProfile,
};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use wire::{
    GroupBody, GroupName, GroupsPage, InviteUser, MembersBody, RemoveMode, TeamGroup, TeamUser,
    UpdateUser, UserBody, UsersPage, API_PREFIX, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT,
};
