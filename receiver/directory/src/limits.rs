//! The limits of one write (issue 13). SQLite has one writer: a group write runs in one
//! transaction and every other write waits for it, so what one request may ask is bounded.
//! The server answers a request beyond them with 413 and an RFC 7644 §3.12 error body
//! before it reaches the store: the section's table gives 413 for "one or more of the
//! limits for this request have been exceeded", while `tooMany` (400) is the scimType of a
//! filter yielding too many results, which these are not.

/// Most member values one request may name: the `members` of a POST or PUT, or the member
/// values of all a PATCH's operations together. A group can grow past it over several
/// requests. Okta's form of 20,000 members (`{"value": "<UUID>"}`) is about 1 MB, just
/// under the 1 MiB body limit. Such a write is one transaction (it applies whole or not
/// at all) holding the writer about 0.6 s on the 2-core benchmark machine, most of it
/// writing and fsyncing its 20,000 jobs (`bench-membership`): that bounds how long any
/// other write waits for it. A write removing every member of a group grown bigger over
/// several requests (a DELETE, or a replace emptying it) costs in the group's size.
pub const MAX_MEMBERS_PER_REQUEST: usize = 20_000;

/// Most operations in one PATCH request: the SCIM parser's own bound.
pub const MAX_PATCH_OPERATIONS: usize = splashsync_scim::patch::MAX_OPERATIONS;
