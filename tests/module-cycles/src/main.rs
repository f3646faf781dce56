//! `module-cycles [WORKSPACE]`: prints every module cycle of the workspace's crates and exits
//! 1 if there is one (CI runs it before the tests).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let workspace = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let crates = splashsync_module_cycles::crate_roots(&workspace).len();
    let cycles = splashsync_module_cycles::workspace_cycles(&workspace);
    if cycles.is_empty() {
        println!("no module cycles in {crates} crate targets");
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "{} module cycles (sibling modules that import each other):",
        cycles.len()
    );
    for c in &cycles {
        eprintln!("  {c}");
    }
    ExitCode::FAILURE
}
