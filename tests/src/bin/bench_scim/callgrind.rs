//! The receiver under valgrind's callgrind, for `bench-scim --callgrind DIR`.

use std::process::{Command, Stdio};

/// The receiver under callgrind: instrumentation switched on for a phase, then dumped.
pub(crate) struct Callgrind {
    pub(crate) dir: std::path::PathBuf,
    pub(crate) pid: u32,
}

impl Callgrind {
    fn control(&self, args: &[&str]) -> anyhow::Result<()> {
        let status = Command::new("callgrind_control")
            .args(args)
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "callgrind_control {args:?} failed");
        Ok(())
    }

    pub(crate) fn start(&self) -> anyhow::Result<()> {
        self.control(&["--zero"])?;
        self.control(&["--instr=on"])
    }

    /// Dumps the phase's profile and prints its instructions per request.
    pub(crate) fn finish(&self, phase: &str, requests: usize) -> anyhow::Result<()> {
        self.control(&["--instr=off"])?;
        let before = self.dumps()?;
        self.control(&[&format!("--dump={phase}")])?;
        let file = self
            .dumps()?
            .into_iter()
            .find(|f| !before.contains(f))
            .ok_or_else(|| anyhow::anyhow!("callgrind wrote no dump for {phase}"))?;
        let text = std::fs::read_to_string(&file)?;
        let ir: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("totals:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        println!(
            "  callgrind    {} Ir per request ({phase}; {})",
            ir / requests.max(1) as u64,
            file.display()
        );
        Ok(())
    }

    fn dumps(&self) -> anyhow::Result<Vec<std::path::PathBuf>> {
        Ok(std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect())
    }
}
