//! The assertions of Microsoft's "SCIM Tests" collection the receiver fails today, each
//! classified. `docs/conformance.md` gives each one's expectation, our answer and the fix;
//! a test keeps the two lists the same.

use std::fmt;

/// Why an assertion fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The collection asserts something RFC 7643/7644 does not require, or contradicts.
    Deviation {
        /// The RFC section(s) the receiver's answer follows.
        rfc: &'static str,
    },
    /// A defect of ours, still to fix under issue `issue`.
    Open {
        /// The issue tracking it.
        issue: u32,
    },
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Category::Deviation { rfc } => write!(f, "deviation, {rfc}"),
            Category::Open { issue } => write!(f, "open, #{issue}"),
        }
    }
}

/// One assertion expected to fail.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    /// The request's label, `Folder / Request` (` #n` for the n-th of that name).
    pub request: &'static str,
    /// The assertion's name, spelled as in the collection.
    pub assertion: &'static str,
    /// Deviation or open defect.
    pub category: Category,
    /// The cause, in one line.
    pub why: &'static str,
}

const fn deviation(
    request: &'static str,
    assertion: &'static str,
    rfc: &'static str,
    why: &'static str,
) -> Expected {
    Expected {
        request,
        assertion,
        category: Category::Deviation { rfc },
        why,
    }
}

const SPC: &str = "RFC 7644 §4";
const USER_NAME: &str = "RFC 7643 §2.2, §8.7.1; RFC 7644 §3.5.1, §3.5.2";
const PATCH_204: &str = "RFC 7644 §3.5.2";
const ONE_GROUP: &str = "RFC 7643 §4.2; RFC 7644 §3.12";
const ATTRIBUTES: &str = "RFC 7644 §3.4.2.5, §3.10";
const FILTER: &str = "RFC 7644 §3.4.2.2";
const ACCOUNT_EMAIL: &str = "RFC 7643 §4.1.2; RFC 7644 §3.12";

/// Microsoft's collection at commit d445ef901981fef684a220fe8cf6c97b588600fd, run without
/// its `Get Token` folder against an empty receiver with the default settings.
#[rustfmt::skip]
pub const MICROSOFT: &[Expected] = &[
    deviation("Endpoint tests / Get ServiceProviderConfig", "Status code is 200", SPC,
        "the collection calls /serviceConfiguration; the RFC endpoint /ServiceProviderConfig answers 200"),
    deviation("Endpoint tests / Get ServiceProviderConfig", "Pach supported is true", SPC,
        "reads patch.supported from the 404 of /serviceConfiguration"),
    deviation("User tests / Get User1 Check Patch", "Username is changed", USER_NAME,
        "the PATCH before it changed userName: refused with 400 mutability (userName is immutable)"),
    deviation("User tests / User 2 replace test", "Status code is 200", USER_NAME,
        "the PUT changes userName: 400 mutability (userName is immutable)"),
    deviation("User tests / Get user2 Check replace", "Name is updated", USER_NAME,
        "the PUT before it was refused as a whole (400 mutability), so name.formatted did not change"),
    deviation("Group tests / Put replace group3", "Status code is 200", ONE_GROUP,
        "both members are already in group 2: 409 under the default group policy (a Splashtop user is in one group)"),
    deviation("Group tests / Validate group 3", "Body contians user id3", ONE_GROUP,
        "the PUT before it was refused (409), so group 3 has no members"),
    deviation("Group tests / Get group by id", "Body contians user", "RFC 7643 §2.4, §4.2, §8.7.1",
        "expects the member's `displayName` sent in the PATCH (not a member sub-attribute); members[].display is the user's own displayName"),
    deviation("ComplexAttribute tests / create user1", "Status code is 201", ACCOUNT_EMAIL,
        "userName UserName111 is no email and its primary email is emailName357: no Splashtop account email, 400 invalidValue naming emails"),
    deviation("ComplexAttribute tests / Get user attributes", "Status code is 200", ATTRIBUTES,
        "attributes=emails[type eq \"work\"] is not attribute notation: 400 invalidValue"),
    deviation("ComplexAttribute tests / Get user attributes", "Body contians User1 email", ATTRIBUTES,
        "looks for an email in the 400 answer to attributes=emails[type eq \"work\"]"),
    deviation("ComplexAttribute tests / Get user via attributes filter", "Status code is 200", ATTRIBUTES,
        "attributes=emails[value eq \"emailName357\"] is not attribute notation: 400 invalidValue"),
    deviation("ComplexAttribute tests / Delete User1", "Status code is 204", ACCOUNT_EMAIL,
        "its create was refused (400), so the collection deletes /Users/null: 404"),
    deviation("User tests with garbage / Patch user omalley new username", "Status code is 204",
        "RFC 7644 §3.5.2; RFC 7643 §2.2",
        "a successful PATCH may answer 200 with the resource; this one changes userName: 400 mutability"),
    deviation("User tests with garbage / patch user omalley active with boolean", "Status code is 204", PATCH_204,
        "answered 200 with the whole user, which the RFC allows"),
    deviation("User tests with garbage / get user1", "Username changed", USER_NAME,
        "the userName PATCH before it was refused with 400 mutability (userName is immutable)"),
    deviation("User tests with garbage / filter eq and (val or val)", "Total results", FILTER,
        "unquoted string values (Employee, example.com): 400 invalidFilter"),
    deviation("User tests with garbage / filter starts with", "Total results", FILTER,
        "unquoted string value (O): 400 invalidFilter"),
    deviation("User tests with garbage / filter greater than", "Total results", FILTER,
        "unquoted dateTime value: 400 invalidFilter"),
    deviation("Group tests with garbage / Group patch add member", "Status code is 204",
        "RFC 7644 §3.5.2",
        "a bare string is read as the member id (kept unresolved: no such user); the answer is 200 with the group, which the RFC allows"),
    deviation("Group tests with garbage / Group patch add member2", "Status code is 204",
        "RFC 7644 §3.5.2",
        "a bare string is read as the member id (kept unresolved: no such user); the answer is 200 with the group, which the RFC allows"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_assertion_is_listed_once() {
        for (i, a) in MICROSOFT.iter().enumerate() {
            for b in &MICROSOFT[i + 1..] {
                assert!(
                    !(a.request == b.request && a.assertion == b.assertion),
                    "{} :: {} is listed twice",
                    a.request,
                    a.assertion
                );
            }
        }
    }
}
