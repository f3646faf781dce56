//! Outcome details in words. Workers now report them in words ("invited to the team
//! (Splashtop id u_1)", "transient failure (HTTP 429): …"), which pass through unchanged;
//! events stored by earlier workers hold the Rust form of what they did (`Invited("u_1")`,
//! `Skipped { newer: 2 }`) and `transient failure (status Some(429)): …`, turned into the
//! same words here when they are shown. Stored events keep what the worker sent.

/// What an applied variant means, by its name.
fn applied(name: &str) -> Option<&'static str> {
    Some(match name {
        "Invited" => "invited to the team",
        "Updated" => "updated",
        "Unchanged" => "already up to date",
        "Removed" => "removed from the team",
        "GroupCreated" => "group created",
        "GroupRenamed" => "group renamed",
        "GroupDeleted" => "group deleted",
        "AlreadyAbsent" => "already absent from Splashtop",
        _ => return None,
    })
}

/// An attempt's line in a timeline: its number, what happened in words, Splashtop's
/// code, and when the worker tries again when it said so (a transient failure).
pub fn attempt_line(
    attempt: i64,
    detail_text: &str,
    code: Option<&str>,
    next_attempt_at: Option<&str>,
) -> String {
    let code = code.map(|c| format!(" [{c}]")).unwrap_or_default();
    let next = next_attempt_at
        .map(|at| format!("; next attempt at {at}"))
        .unwrap_or_default();
    format!("attempt {attempt}: {}{code}{next}", detail(detail_text))
}

/// `detail` in words (unchanged when it is words already).
pub fn detail(detail: &str) -> String {
    let text = detail.trim();
    if let Some(words) = applied(text) {
        return words.to_string();
    }
    // `Name("id")`
    if let Some((name, rest)) = text.split_once("(\"") {
        if let (Some(words), Some(id)) = (applied(name), rest.strip_suffix("\")")) {
            return format!("{words} (Splashtop id {id})");
        }
    }
    // `Skipped { newer: 3 }`, `Superseded { by: "id" }`
    if let Some(rest) = text.strip_prefix("Skipped { newer: ") {
        if let Some(n) = rest.strip_suffix(" }") {
            return format!("skipped: version {n} of this key was applied already");
        }
    }
    if let Some(rest) = text.strip_prefix("Superseded { by: \"") {
        if let Some(by) = rest.strip_suffix("\" }") {
            return format!("skipped: a newer account with this userName ({by}) acted already");
        }
    }
    // `(status Some(429))` / `(status None)`
    if let Some((head, rest)) = text.split_once("(status Some(") {
        if let Some((code, tail)) = rest.split_once("))") {
            if code.chars().all(|c| c.is_ascii_digit()) {
                return format!("{head}(HTTP {code}){tail}");
            }
        }
    }
    text.replace("(status None)", "(no answer)")
}

#[cfg(test)]
mod tests {
    use super::detail;

    #[test]
    fn debug_forms_become_words_and_words_stay() {
        assert_eq!(
            detail("Invited(\"u_12\")"),
            "invited to the team (Splashtop id u_12)"
        );
        assert_eq!(detail("AlreadyAbsent"), "already absent from Splashtop");
        assert_eq!(
            detail("Skipped { newer: 4 }"),
            "skipped: version 4 of this key was applied already"
        );
        assert_eq!(
            detail("transient failure (status Some(429)): slow down"),
            "transient failure (HTTP 429): slow down"
        );
        assert_eq!(
            detail("transient failure (status None): connection reset"),
            "transient failure (no answer): connection reset"
        );
        assert_eq!(detail("licence full"), "licence full");
        assert_eq!(detail("Nobody(\"x\")"), "Nobody(\"x\")");
    }
}
