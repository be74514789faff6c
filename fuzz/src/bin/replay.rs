//! Runs a fuzz target's checks over files or folders of inputs, outside AFL:
//! `replay <target> <file-or-folder>...`. Prints each file before running it, so the last name
//! printed before a panic is the input at fault; exits non-zero on an unknown target.

use std::path::{Path, PathBuf};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(target) = args.next() else {
        eprintln!(
            "usage: replay <target> <file-or-folder>...  (targets: {:?})",
            abis_fuzz::TARGETS
        );
        std::process::exit(2);
    };
    if !abis_fuzz::TARGETS.contains(&target.as_str()) {
        eprintln!(
            "unknown target {target:?}; targets: {:?}",
            abis_fuzz::TARGETS
        );
        std::process::exit(2);
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in args {
        collect(Path::new(&arg), &mut files);
    }
    files.sort();
    for file in &files {
        let data = match std::fs::read(file) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                continue;
            }
        };
        eprintln!("{} ({} bytes)", file.display(), data.len());
        abis_fuzz::run(&target, &data);
    }
    eprintln!("{target}: {} inputs ran without a panic", files.len());
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                let p = entry.path();
                if p.is_file() {
                    out.push(p);
                }
            }
        }
    } else {
        out.push(path.to_owned());
    }
}
