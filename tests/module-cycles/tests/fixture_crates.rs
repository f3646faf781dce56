//! The check over real files: module files found the way rustc finds them, inline modules,
//! test modules left out.

use std::fs;
use std::path::Path;

fn write(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn package(root: &Path) {
    write(root, "Cargo.toml", "[package]\nname = \"fixture\"\n");
}

#[test]
fn a_cycle_through_module_files_is_found_with_its_crate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("k");
    package(&root);
    write(&root, "src/lib.rs", "pub mod store;\npub mod user;\n");
    write(&root, "src/store/mod.rs", "mod jobs;\npub struct Record;\n");
    write(&root, "src/store/jobs.rs", "use crate::user::desired;\n");
    write(
        &root,
        "src/user.rs",
        "use crate::store::Record;\npub fn desired() {}\n",
    );
    let found = splashsync_module_cycles::workspace_cycles(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("k/src/lib.rs: "), "{found:?}");
    assert!(found[0].contains("store → user → store"), "{found:?}");
}

#[test]
fn test_modules_comments_and_one_way_uses_are_not_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("k");
    package(&root);
    write(
        &root,
        "src/lib.rs",
        "mod a;\nmod b;\nmod inner {\n    use super::a::X;\n}\n",
    );
    write(&root, "src/a.rs", "// use crate::b::Y;\npub struct X;\nconst S: &str = \"crate::b\";\n#[cfg(test)]\nmod tests {\n    use crate::b::Y;\n}\n");
    write(&root, "src/b.rs", "pub struct Y;\nuse crate::a::X;\n");
    let found = splashsync_module_cycles::workspace_cycles(dir.path());
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(splashsync_module_cycles::crate_roots(dir.path()).len(), 1);
}
