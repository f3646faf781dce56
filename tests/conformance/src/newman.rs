//! newman, Postman's command-line runner (npm), run as a subprocess.
//!
//! The suites are pinned to newman 6: another major version may run scripts differently,
//! and a test that silently skips when its runner is missing proves nothing, so a missing
//! or wrong newman is an error that says how to install the right one.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};
use serde_json::Value;

/// How to install the newman these suites run with.
pub const INSTALL_HINT: &str = "npm install -g newman@6";

/// The major version the suites are pinned to.
const MAJOR: &str = "6.";

/// An installed newman 6.
#[derive(Debug, Clone)]
pub struct Newman {
    version: String,
}

impl Newman {
    /// Finds `newman` on the PATH and checks it is version 6.
    pub fn locate() -> Result<Self, String> {
        let output = Command::new("newman").arg("--version").output().map_err(|e| {
            format!("newman is not installed ({e}); install it with `{INSTALL_HINT}` (npm comes with Node.js)")
        })?;
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() || !version.starts_with(MAJOR) {
            return Err(format!(
                "found newman {version:?}, but these suites are pinned to newman 6; install it with `{INSTALL_HINT}`"
            ));
        }
        Ok(Self { version })
    }

    /// The installed version, e.g. `6.2.2`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Runs `collection` with the environment variables `env` and returns newman's JSON
    /// report (written to `report`). Failing assertions are in the report, not an error;
    /// an error means newman could not run the collection at all.
    pub fn run(
        &self,
        collection: &Path,
        env: &[(&str, String)],
        report: &Path,
    ) -> anyhow::Result<Value> {
        let mut command = Command::new("newman");
        command
            .arg("run")
            .arg(collection)
            .args(["--reporters", "json", "--reporter-json-export"])
            .arg(report)
            // Bounds so a hung receiver fails the run instead of hanging the test.
            .args([
                "--timeout",
                "600000",
                "--timeout-request",
                "30000",
                "--timeout-script",
                "30000",
            ])
            .args(["--color", "off", "--disable-unicode"]);
        for (name, value) in env {
            command.arg("--env-var").arg(format!("{name}={value}"));
        }
        let output = command.output().context("starting newman")?;
        // newman exits 1 when an assertion fails: the report says which, so only a missing
        // report is an error here.
        let text = match std::fs::read_to_string(report) {
            Ok(text) => text,
            Err(e) => bail!(
                "newman wrote no report ({e}); exit {:?}\nstdout: {}\nstderr: {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        };
        serde_json::from_str(&text).context("parsing newman's JSON report")
    }
}
