//! The crate's layout is a stack of rooms (see `src/lib.rs` and the README's architecture):
//! a module may use its own room and the rooms below it, never one above. This test reads every
//! source file and checks each `crate::…` path (in code, not in comments) against that order,
//! so an import circle between rooms cannot come back.

use std::path::{Path, PathBuf};

/// The rooms, lowest first (as listed in `src/lib.rs`'s "Layout").
const ROOMS: [&str; 13] = [
    "error",
    "rng",
    "image",
    "model",
    "device",
    "engine",
    "grafiqs",
    "scorer",
    "calibrate",
    "capture",
    "report",
    "eval",
    "web",
];

/// The crate root's re-exports, by the room they come from.
const REEXPORTS: [(&str, &str); 20] = [
    ("Error", "error"),
    ("Result", "error"),
    ("RgbImage", "image"),
    ("align", "image"),
    ("degrade", "image"),
    ("Calibration", "model"),
    ("Model", "model"),
    ("ModelMeta", "model"),
    ("Preprocess", "model"),
    ("ScoreKind", "model"),
    ("Storage", "model"),
    ("BackendKind", "device"),
    ("Scores", "grafiqs"),
    ("ChannelOrder", "scorer"),
    ("Scored", "scorer"),
    ("Scorer", "scorer"),
    ("Detector", "capture"),
    ("Assessor", "capture"),
    ("Assessment", "capture"),
    ("Face", "capture"),
];

fn room_named(name: &str) -> Option<usize> {
    let room = REEXPORTS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(name, |(_, r)| *r);
    ROOMS.iter().position(|r| *r == room)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The room a source file belongs to (`None`: the crate root, the binary and the CLI, which
/// sit above every room).
fn room_of(src: &Path, file: &Path) -> Option<usize> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    ROOMS.iter().position(|r| *r == name)
}

/// The code of a line, without its `//` comment.
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

#[test]
fn rooms_only_use_rooms_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    declared.sort_unstable();
    let mut rooms = ROOMS.to_vec();
    rooms.sort_unstable();
    assert_eq!(declared, rooms, "every module of src/lib.rs is a room");

    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let Some(own) = room_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = code_of(line);
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(used) = room_named(&name)
                    && used > own
                {
                    violations.push(format!(
                        "{}:{}: room `{}` uses `{}` above it",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1,
                        ROOMS[own],
                        ROOMS[used]
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_a_violation() {
    // The scan itself: a `crate::` path to a higher room in code is found, one in a comment is
    // not.
    let code = code_of("use crate::scorer::Scorer; // crate::web");
    assert!(code.contains("crate::scorer") && !code.contains("crate::web"));
    let src = Path::new("/x/src");
    assert_eq!(room_of(src, Path::new("/x/src/image/jpeg.rs")), Some(2));
    assert_eq!(room_of(src, Path::new("/x/src/cli/mod.rs")), None);
    assert_eq!(room_named("Scorer"), Some(7));
    assert_eq!(room_named("eval"), Some(11));
}
