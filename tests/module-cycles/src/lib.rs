//! Finds module cycles in the workspace's crates, for CI.
//!
//! The rule: sibling modules (children of one parent) must not reference each other in a
//! circle, directly (`a` uses `b`, `b` uses `a`) or through a chain (`a → b → c → a`). A
//! child may use its ancestors' items (`super::X`) and a parent its children's: that is the
//! tree itself, not a cycle. A reference from `crate::x::y` to `crate::z::w` counts as an edge
//! between the two siblings under their closest common ancestor (`x → z`).
//!
//! Rust has no stable parser in `std`, and `cargo modules --acyclic` needs rust-analyzer's
//! crates (a long build on CI's two cores), so this reads the source as text: comments and
//! literals are blanked, `mod name;` and inline `mod name { … }` give the tree, and every
//! `crate::…`, `super::…` and `self::…` path (`use` trees with braces included) gives the
//! references. Macros that build paths out of fragments are not seen; nothing in this
//! workspace does that.
//!
//! # Layout
//! - [`source`]: blanking comments and literals, tokens.
//! - [`tree`]: a crate's module tree and the references of each module.
//! - [`cycles`]: the sibling graphs and their strongly connected components.

pub mod cycles;
pub mod source;
pub mod tree;

use std::path::{Path, PathBuf};

/// The roots of every library and binary target under `workspace`: `src/lib.rs`,
/// `src/main.rs` and `src/bin/*.rs` of each directory holding a `Cargo.toml` with a
/// `[package]` (the `target` and hidden directories are skipped).
pub fn crate_roots(workspace: &Path) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let mut dirs = vec![workspace.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|m| m.contains("[package]")) {
            for file in ["src/lib.rs", "src/main.rs"] {
                let root = dir.join(file);
                if root.is_file() {
                    roots.push(root);
                }
            }
            if let Ok(bins) = std::fs::read_dir(dir.join("src/bin")) {
                for bin in bins.flatten() {
                    let path = bin.path();
                    if path.extension().is_some_and(|e| e == "rs") {
                        roots.push(path);
                    }
                }
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() && !name.starts_with('.') && name != "target" {
                dirs.push(path);
            }
        }
    }
    roots.sort();
    roots
}

/// Every cycle in every crate under `workspace`, as printable lines
/// (`receiver/src/lib.rs: store → user → store`).
pub fn workspace_cycles(workspace: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for root in crate_roots(workspace) {
        let krate = tree::Crate::load(&root);
        let shown = root.strip_prefix(workspace).unwrap_or(&root).display();
        for cycle in cycles::find(&krate) {
            found.push(format!("{shown}: {}", cycle.join(" → ")));
        }
    }
    found
}
