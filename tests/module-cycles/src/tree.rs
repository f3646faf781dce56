//! A crate's module tree, read from its root file, and the paths each module references.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::source::{blank, tokens, Token};

/// A module path from the crate root (`[]` is the root, `["store", "jobs"]` is `store::jobs`).
pub type ModPath = Vec<String>;

/// One crate: its modules and every reference made from one module to a path.
#[derive(Debug, Default)]
pub struct Crate {
    /// Every module, the root included.
    pub modules: BTreeSet<ModPath>,
    /// `(from, to)`: module `from` names the absolute path `to` (not yet resolved to a module).
    pub references: Vec<(ModPath, ModPath)>,
}

impl Crate {
    /// Reads the crate whose root file is `root` (missing module files are skipped).
    pub fn load(root: &Path) -> Self {
        let mut krate = Crate::default();
        let dir = root.parent().map(Path::to_path_buf).unwrap_or_default();
        krate.read_file(root, Vec::new(), dir);
        krate
    }

    /// Reads one file of module `path`, whose `mod x;` children live in `dir`.
    fn read_file(&mut self, file: &Path, path: ModPath, dir: PathBuf) {
        let Ok(src) = std::fs::read_to_string(file) else {
            return;
        };
        self.modules.insert(path.clone());
        let toks = tokens(&blank(&src));
        // Inline modules open a scope: (module path, its children's dir, brace depth).
        let mut scopes: Vec<(ModPath, PathBuf, usize)> = vec![(path, dir, 0)];
        let mut depth = 0usize;
        let mut i = 0;
        while i < toks.len() {
            let (here, here_dir, _) = scopes.last().cloned().unwrap_or_default();
            match &toks[i] {
                Token::Punct('{') => depth += 1,
                Token::Punct('}') => {
                    depth = depth.saturating_sub(1);
                    if scopes.len() > 1 && scopes.last().is_some_and(|s| s.2 == depth) {
                        scopes.pop();
                    }
                }
                Token::Ident(kw) if kw == "mod" => {
                    if let Some(Token::Ident(name)) = toks.get(i + 1) {
                        let child: ModPath = here.iter().cloned().chain([name.clone()]).collect();
                        let test_only = is_cfg_test(&toks, i);
                        match toks.get(i + 2) {
                            Some(Token::Punct(';')) if !test_only => {
                                if let Some(f) = child_file(&here_dir, name) {
                                    // `x.rs` and `x/mod.rs` both keep their children in `x/`.
                                    self.read_file(&f, child, here_dir.join(name));
                                }
                                i += 3;
                                continue;
                            }
                            Some(Token::Punct('{')) if test_only => {
                                i = skip_block(&toks, i + 2);
                                continue;
                            }
                            Some(Token::Punct('{')) => {
                                self.modules.insert(child.clone());
                                scopes.push((child, here_dir.join(name), depth));
                                depth += 1;
                                i += 3;
                                continue;
                            }
                            _ => {}
                        }
                    }
                }
                Token::Ident(start) if is_path_start(start, toks.get(i + 1)) => {
                    let (paths, next) = parse_path(&toks, i, &here);
                    for p in paths {
                        self.references.push((here.clone(), p));
                    }
                    i = next;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

fn is_path_start(word: &str, next: Option<&Token>) -> bool {
    matches!(word, "crate" | "super" | "self") && next == Some(&Token::PathSep)
}

/// Whether the `mod` at `i` is preceded by `#[cfg(test)]` (possibly after `pub`).
fn is_cfg_test(toks: &[Token], i: usize) -> bool {
    let mut j = i;
    if j > 0 && toks[j - 1] == Token::Ident("pub".into()) {
        j -= 1;
    }
    let want = [
        Token::Punct('#'),
        Token::Punct('['),
        Token::Ident("cfg".into()),
        Token::Punct('('),
        Token::Ident("test".into()),
        Token::Punct(')'),
        Token::Punct(']'),
    ];
    j >= want.len() && toks[j - want.len()..j] == want
}

/// The index after the block whose `{` is at `open`.
fn skip_block(toks: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

fn child_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|f| f.is_file())
}

/// Parses the path (or `use` tree) starting at `i` in module `here`; returns the absolute
/// paths it names and the index after it.
fn parse_path(toks: &[Token], i: usize, here: &ModPath) -> (Vec<ModPath>, usize) {
    let mut base: ModPath = Vec::new();
    let mut j = i;
    let mut relative = here.clone();
    let mut anchored = false;
    loop {
        match (toks.get(j), toks.get(j + 1)) {
            (Some(Token::Ident(w)), Some(Token::PathSep)) if !anchored && w == "crate" => {
                relative = Vec::new();
                j += 2;
            }
            (Some(Token::Ident(w)), Some(Token::PathSep)) if !anchored && w == "super" => {
                relative.pop();
                j += 2;
            }
            (Some(Token::Ident(w)), Some(Token::PathSep)) if !anchored && w == "self" => {
                j += 2;
            }
            _ => break,
        }
        if !matches!(toks.get(j), Some(Token::Ident(w)) if w == "super") {
            anchored = true;
        }
    }
    base.extend(relative);
    tree(toks, j, base)
}

/// A `use` tree or plain path from `j` under `base`.
fn tree(toks: &[Token], mut j: usize, mut base: ModPath) -> (Vec<ModPath>, usize) {
    loop {
        match toks.get(j) {
            Some(Token::Ident(w)) => {
                if w != "self" {
                    base.push(w.clone());
                }
                j += 1;
                if toks.get(j) == Some(&Token::PathSep) {
                    j += 1;
                    continue;
                }
                return (vec![base], j);
            }
            Some(Token::Punct('{')) => {
                let mut out = Vec::new();
                j += 1;
                while let Some(t) = toks.get(j) {
                    match t {
                        Token::Punct('}') => return (out_or(out, base), j + 1),
                        Token::Punct(',') => j += 1,
                        Token::Ident(w) if w == "as" => j += 2,
                        _ => {
                            let (mut sub, next) = tree(toks, j, base.clone());
                            out.append(&mut sub);
                            j = next.max(j + 1);
                        }
                    }
                }
                return (out_or(out, base), j);
            }
            _ => return (vec![base], j),
        }
    }
}

fn out_or(out: Vec<ModPath>, base: ModPath) -> Vec<ModPath> {
    if out.is_empty() {
        vec![base]
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str, here: &[&str]) -> Vec<String> {
        let toks = tokens(&blank(src));
        let here: ModPath = here.iter().map(|s| s.to_string()).collect();
        let i = toks
            .iter()
            .position(
                |t| matches!(t, Token::Ident(w) if w == "crate" || w == "super" || w == "self"),
            )
            .unwrap();
        parse_path(&toks, i, &here)
            .0
            .iter()
            .map(|p| p.join("::"))
            .collect()
    }

    #[test]
    fn use_trees_expand_to_every_path() {
        assert_eq!(
            refs("use crate::{a::{B, c::D}, e as f, self};", &["x"]),
            ["a::B", "a::c::D", "e", ""]
        );
        assert_eq!(
            refs("use super::super::k::L;", &["a", "b", "c"]),
            ["a::k::L"]
        );
        assert_eq!(refs("let x = self::m::f();", &["a"]), ["a::m::f"]);
    }
}
