//! `cargo xtask check-globals`: the privacy invariant on component globals, checked.
//!
//! Instances are reused across requests (up to 128 on Spin, 16 at once), so anything a
//! component keeps in a global outlives the request that put it there. The rule
//! (ARCHITECTURE.md, "Invariants"): no request data in component globals; caches of
//! deployment configuration are fine. A reader cannot tell from a `static` which one it
//! holds, so every global in `components/` and `crates/message-store/` must be listed in
//! `xtask/globals-allowed.txt` with the reason it holds configuration only. A new one fails
//! CI until someone has written that reason down, and a listed one that no longer exists
//! fails too, so the list never grows stale.

use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The folders whose globals live inside reused instances.
const SCANNED: &[&str] = &["components", "crates/message-store"];
const ALLOW_LIST: &str = "xtask/globals-allowed.txt";

/// One global: the file (relative to the workspace, `/`-separated) and the item's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Global {
    pub path: String,
    pub name: String,
}

pub fn check(root: &Path) -> Result<()> {
    let mut found = BTreeSet::new();
    for folder in SCANNED {
        for file in rust_files(&root.join(folder))? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let path = relative(root, &file);
            for name in globals_in(&text) {
                found.insert(Global {
                    path: path.clone(),
                    name,
                });
            }
        }
    }
    let allow_text = std::fs::read_to_string(root.join(ALLOW_LIST))
        .with_context(|| format!("reading {ALLOW_LIST}"))?;
    let allowed = parse_allow_list(&allow_text)?;
    let problems = compare(&found, &allowed);
    if problems.is_empty() {
        println!("check-globals: {} globals, each allowed", found.len());
        return Ok(());
    }
    for problem in &problems {
        eprintln!("check-globals: {problem}");
    }
    bail!(
        "{} problem(s) with component globals: see {ALLOW_LIST} and ARCHITECTURE.md",
        problems.len()
    )
}

/// What is wrong between the globals found and the allow-list, one line each.
pub fn compare(found: &BTreeSet<Global>, allowed: &BTreeSet<Global>) -> Vec<String> {
    let mut problems = Vec::new();
    for global in found.difference(allowed) {
        problems.push(format!(
            "{} declares the global `{}`, which is not in the allow-list: a reused instance \
             keeps it across requests. If it holds deployment configuration only, add \
             `{} {} <why>`; if it holds request data, move it into the request",
            global.path, global.name, global.path, global.name
        ));
    }
    for global in allowed.difference(found) {
        problems.push(format!(
            "the allow-list names `{}` in {}, which no longer declares it: remove the entry",
            global.name, global.path
        ));
    }
    problems
}

/// The allow-list: one `path name reason...` per line; `#` starts a comment. A line
/// without a reason is refused: the reason is the point of the list.
pub fn parse_allow_list(text: &str) -> Result<BTreeSet<Global>> {
    let mut allowed = BTreeSet::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(path), Some(name), Some(_reason)) = (words.next(), words.next(), words.next())
        else {
            bail!(
                "{ALLOW_LIST}:{}: expected `path name reason`, got `{line}`",
                number + 1
            );
        };
        allowed.insert(Global {
            path: path.to_string(),
            name: name.to_string(),
        });
    }
    Ok(allowed)
}

/// The names of the globals a Rust source declares: every `static NAME` item (which also
/// covers the statics inside `thread_local!` and `lazy_static!`), ignoring comments,
/// string literals and the `'static` lifetime.
pub fn globals_in(source: &str) -> Vec<String> {
    let code = strip_comments_and_strings(source);
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if words[i] == "static" {
            let mut j = i + 1;
            if words.get(j) == Some(&"mut") {
                j += 1;
            }
            if let Some(name) = words.get(j) {
                names.push(name.to_string());
            }
            i = j;
        }
        i += 1;
    }
    names
}

/// The source with comments and the insides of string and char literals blanked, so that
/// neither `// a static here` nor `"static"` counts. Lifetimes (`'static`) stay one word
/// with their quote, which [`globals_in`] does not take for the keyword.
fn strip_comments_and_strings(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_at(&chars, i) {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1; // the opening quote
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push(' ');
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' && char_literal_len(&chars, i).is_some() {
            i += char_literal_len(&chars, i).unwrap_or(1);
            out.push(' ');
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether `r` at `i` opens a raw string (`r"`, `r#"`), not ends an identifier.
fn raw_string_at(chars: &[char], i: usize) -> bool {
    let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    starts_word && chars.get(j) == Some(&'"')
}

/// The length of a char literal at `i` (`'a'`, `'\n'`, `'\u{1F600}'`), or `None` for a
/// lifetime such as `'static`.
fn char_literal_len(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i + 1) == Some(&'\\') {
        let close = (i + 2..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')?;
        return Some(close - i + 1);
    }
    (chars.get(i + 2) == Some(&'\'')).then_some(3)
}

fn rust_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn relative(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap_or(file);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_statics_thread_locals_and_lazy_statics() {
        let source = r#"
            static KEYRING: std::sync::OnceLock<Keyring> = std::sync::OnceLock::new();
            pub(crate) static mut COUNTER: u32 = 0;
            thread_local! { static LAST_CALLER: RefCell<String> = RefCell::new(String::new()); }
            fn f() { static INNER: AtomicU32 = AtomicU32::new(0); }
        "#;
        assert_eq!(
            globals_in(source),
            ["KEYRING", "COUNTER", "LAST_CALLER", "INNER"]
        );
    }

    #[test]
    fn lifetimes_comments_and_strings_are_not_globals() {
        let source = r##"
            fn name() -> &'static str { "static NOT_ONE: u8" }
            // static IN_A_COMMENT: u8 = 0;
            /* static IN_A_BLOCK: u8 = 0; */
            const RAW: &str = r#"static IN_A_RAW_STRING"#;
            fn c() -> char { '"' }
            struct Holder<T: 'static>(T);
        "##;
        assert!(globals_in(source).is_empty(), "{:?}", globals_in(source));
    }

    #[test]
    fn a_new_global_and_a_stale_entry_are_both_problems() {
        let global = |path: &str, name: &str| Global {
            path: path.into(),
            name: name.into(),
        };
        let found = BTreeSet::from([global("a.rs", "KEYRING"), global("b.rs", "LAST_BODY")]);
        let allowed = BTreeSet::from([global("a.rs", "KEYRING"), global("c.rs", "GONE")]);
        let problems = compare(&found, &allowed);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("LAST_BODY") && problems[0].contains("not in the allow-list"));
        assert!(problems[1].contains("GONE") && problems[1].contains("no longer declares it"));
        assert!(compare(&found.clone(), &found).is_empty());
    }

    #[test]
    fn an_entry_without_a_reason_is_refused() {
        assert!(parse_allow_list("a.rs KEYRING\n").is_err());
        let allowed = parse_allow_list("# comment\n\na.rs KEYRING the key ring, from variables\n")
            .expect("a reasoned entry parses");
        assert_eq!(allowed.len(), 1);
    }

    #[test]
    fn the_workspace_passes_its_own_check() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        check(&root).expect("every component global is in the allow-list");
    }
}
