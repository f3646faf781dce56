//! `splashsync tenants …`: what an operator writing a tenants file needs, offline (no admin
//! API, so no admin token): hashing a SCIM token, and checking a file.

use std::ffi::OsString;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use splashsync_protocol::tenants::{self, token, TokenHash};

/// `splashsync tenants`, parsed on its own: it needs no receiver and no admin token.
#[derive(Debug, Parser)]
#[command(
    name = "splashsync tenants",
    about = "Tenants file helpers (SPLASHSYNC_TENANTS_FILE; docs/DESIGN.md, \"Tenants\")"
)]
pub(crate) struct TenantsCli {
    #[command(subcommand)]
    command: TenantsCommand,
}

#[derive(Debug, Subcommand)]
enum TenantsCommand {
    /// Reads a SCIM token from standard input (never a flag, which shells and `ps` keep),
    /// refuses it unless long and random enough, and prints its SHA-256 for the file's
    /// `scim_token_sha256`.
    HashToken,
    /// Checks a tenants file and prints each tenant's name and token hash prefix.
    Check {
        /// The tenants file.
        path: PathBuf,
    },
}

/// Whether the command line is `splashsync tenants …`.
pub(crate) fn wanted(args: &[OsString]) -> bool {
    args.get(1).is_some_and(|a| a == "tenants")
}

/// Runs `splashsync tenants …` (`args` without the program name).
pub(crate) fn run(args: &[OsString]) -> ExitCode {
    let cli = TenantsCli::parse_from(args.iter().skip(1));
    let answer = match cli.command {
        TenantsCommand::HashToken => read_token().and_then(|t| hash_token(&t)),
        TenantsCommand::Check { path } => check_file(&path),
    };
    match answer {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("splashsync tenants: {msg}");
            ExitCode::from(2)
        }
    }
}

/// The first line of standard input, without its line ending.
fn read_token() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The hash of a strong enough token, as the file spells it.
fn hash_token(token: &str) -> Result<String, String> {
    token::check_strength(token)?;
    Ok(TokenHash::of(token).to_hex())
}

/// One line per tenant of a valid file.
fn check_file(path: &std::path::Path) -> Result<String, String> {
    let specs = tenants::load(path).map_err(|e| e.to_string())?;
    Ok(specs
        .iter()
        .map(|s| format!("{}\ttoken {}…", s.tenant, &s.token.to_hex()[..8]))
        .collect::<Vec<_>>()
        .join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strong_token_hashes_and_a_weak_one_is_refused() {
        let strong = "k3J9x0Qm2LrT7vWc8ZpA1sDf4GhJ6kLz";
        let hex = hash_token(strong).unwrap();
        assert!(TokenHash::parse_hex(&hex)
            .unwrap()
            .matches(strong.as_bytes()));
        assert!(hash_token("abcabcabcabcabcabcabcabcabcabcab").is_err());
        assert!(hash_token("short").is_err());
    }

    #[test]
    fn a_file_is_checked_and_its_tenants_listed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.toml");
        let hex = TokenHash::of("k3J9x0Qm2LrT7vWc8ZpA1sDf4GhJ6kLz").to_hex();
        let text = format!("[[tenant]]\nname = \"emea\"\nscim_token_sha256 = \"{hex}\"\n");
        std::fs::write(&path, text).unwrap();
        assert_eq!(
            check_file(&path).unwrap(),
            format!("emea\ttoken {}…", &hex[..8])
        );
        std::fs::write(&path, "[[tenant]]\nname = \"emea\"\n").unwrap();
        assert!(check_file(&path).is_err());
    }

    #[test]
    fn only_the_tenants_command_is_dispatched_here() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(wanted(&args(&["splashsync", "tenants", "hash-token"])));
        assert!(!wanted(&args(&["splashsync", "queue", "stats"])));
        assert!(TenantsCli::try_parse_from(["splashsync tenants", "hash-token"]).is_ok());
    }
}
