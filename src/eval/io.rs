//! Parsing of comparison and quality-score files (from text already in memory), with errors
//! that name `file:line`.
//!
//! * **Comparisons**: one comparison a line, `pathA pathB is_same similarity`, separated by
//!   whitespace. `is_same` is `1`/`true`/`same`/`genuine`/`mated` or
//!   `0`/`false`/`diff`/`impostor`/`nonmated` (case-insensitive); `similarity` is a finite
//!   number, higher = more alike.
//! * **Quality scores**: `path score` lines, as written by `grafiqs score` (and most FIQA
//!   tools): the first token is the path (paths contain no whitespace), the last token is the
//!   score. A path listed twice must have the same score both times.
//!
//! In both, empty lines and lines starting with `#` are skipped.

use std::collections::HashMap;

use super::edc::{Orientation, Pair};
use crate::{Error, Result};

/// One line of a comparisons file.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// First image.
    pub a: String,
    /// Second image.
    pub b: String,
    /// Same identity (mated) or not.
    pub genuine: bool,
    /// Comparison score, higher = more alike.
    pub similarity: f64,
    /// 1-based line number in its file.
    pub line: usize,
}

/// Quality scores by image path, as read from one file.
#[derive(Clone, Debug, Default)]
pub struct QualityScores {
    /// Where the scores came from (used in error messages).
    pub source: String,
    scores: HashMap<String, f64>,
}

impl QualityScores {
    /// The raw score of `path`, if listed.
    pub fn get(&self, path: &str) -> Option<f64> {
        self.scores.get(path).copied()
    }

    /// Number of distinct paths.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// No scores at all.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn number(tok: &str, what: &str, source: &str, line: usize) -> Result<f64> {
    match tok.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(Error::Input(format!(
            "{source}:{line}: {what} `{tok}` is not finite"
        ))),
        Err(_) => Err(Error::Input(format!(
            "{source}:{line}: {what} `{tok}` is not a number"
        ))),
    }
}

fn label(tok: &str) -> Option<bool> {
    match tok.to_ascii_lowercase().as_str() {
        "1" | "true" | "same" | "genuine" | "mated" => Some(true),
        "0" | "false" | "diff" | "impostor" | "nonmated" => Some(false),
        _ => None,
    }
}

/// Parses a comparisons file's text; `source` names it in error messages
/// ([`Error::Input`] with `source:line`). An empty file is an error.
pub fn parse_comparisons(text: &str, source: &str) -> Result<Vec<Comparison>> {
    let mut out = Vec::new();
    for (line, l) in lines(text) {
        let toks: Vec<&str> = l.split_whitespace().collect();
        if toks.len() != 4 {
            return Err(Error::Input(format!(
                "{source}:{line}: expected `pathA pathB is_same similarity` (4 fields), got {}",
                toks.len()
            )));
        }
        let genuine = label(toks[2]).ok_or_else(|| {
            Error::Input(format!(
                "{source}:{line}: is_same `{}` is not 1/0, true/false or same/diff",
                toks[2]
            ))
        })?;
        out.push(Comparison {
            a: toks[0].to_string(),
            b: toks[1].to_string(),
            genuine,
            similarity: number(toks[3], "similarity", source, line)?,
            line,
        });
    }
    if out.is_empty() {
        return Err(Error::Input(format!("{source}: no comparisons")));
    }
    Ok(out)
}

/// Parses a quality-score file's text; `source` names it in error messages
/// ([`Error::Input`] with `source:line`). An empty file is an error.
pub fn parse_quality(text: &str, source: &str) -> Result<QualityScores> {
    let mut scores: HashMap<String, (f64, usize)> = HashMap::new();
    for (line, l) in lines(text) {
        let toks: Vec<&str> = l.split_whitespace().collect();
        if toks.len() < 2 {
            return Err(Error::Input(format!(
                "{source}:{line}: expected `path score`"
            )));
        }
        let v = number(toks[toks.len() - 1], "score", source, line)?;
        if let Some(&(old, old_line)) = scores.get(toks[0]) {
            if old != v {
                return Err(Error::Input(format!(
                    "{source}:{line}: `{}` listed again with a different score ({v}; {old} on line {old_line})",
                    toks[0]
                )));
            }
            continue;
        }
        scores.insert(toks[0].to_string(), (v, line));
    }
    if scores.is_empty() {
        return Err(Error::Input(format!("{source}: no quality scores")));
    }
    Ok(QualityScores {
        source: source.to_string(),
        scores: scores.into_iter().map(|(k, (v, _))| (k, v)).collect(),
    })
}

/// Joins comparisons with quality scores: each pair's quality is the lower of its two images'
/// qualities once oriented (higher = better). An image without a score is an
/// [`Error::Input`] naming the path, the quality file and the comparison's line.
pub fn pairs(
    comparisons: &[Comparison],
    quality: &QualityScores,
    orientation: Orientation,
    comparisons_source: &str,
) -> Result<Vec<Pair>> {
    let look =
        |path: &str, line: usize| {
            quality.get(path).map(|v| orientation.orient(v)).ok_or_else(|| {
            Error::Input(format!(
                "no quality score for `{path}` in {} (needed by {comparisons_source}:{line})",
                quality.source
            ))
        })
        };
    comparisons
        .iter()
        .map(|c| {
            let qa = look(&c.a, c.line)?;
            let qb = look(&c.b, c.line)?;
            Ok(Pair {
                genuine: c.genuine,
                similarity: c.similarity,
                quality: qa.min(qb),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comparisons_and_labels() {
        let text =
            "# header\n\na.jpg b.jpg 1 0.5\nc d false -0.25\n  e f SAME 1e-3  \ng h diff 2\n";
        let c = parse_comparisons(text, "c.txt").unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(
            c[0],
            Comparison {
                a: "a.jpg".into(),
                b: "b.jpg".into(),
                genuine: true,
                similarity: 0.5,
                line: 3
            }
        );
        assert!(!c[1].genuine && c[2].genuine && !c[3].genuine);
        assert_eq!(c[2].similarity, 1e-3);
    }

    #[test]
    fn comparison_errors_name_file_and_line() {
        let e = parse_comparisons("a b 1 0.5\na b 1\n", "c.txt").unwrap_err();
        assert!(e.to_string().contains("c.txt:2:"), "{e}");
        let e = parse_comparisons("a b maybe 0.5\n", "c.txt").unwrap_err();
        assert!(e.to_string().contains("c.txt:1:"), "{e}");
        let e = parse_comparisons("\na b 1 x\n", "c.txt").unwrap_err();
        assert!(e.to_string().contains("c.txt:2: similarity `x`"), "{e}");
        let e = parse_comparisons("a b 1 NaN\n", "c.txt").unwrap_err();
        assert!(e.to_string().contains("not finite"), "{e}");
        assert!(parse_comparisons("# nothing\n", "c.txt").is_err());
    }

    #[test]
    fn parses_quality_last_token() {
        let q = parse_quality("a.jpg 12.5\nb.jpg 7 3.25\na.jpg 12.5\n", "q.txt").unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q.get("a.jpg"), Some(12.5));
        assert_eq!(q.get("b.jpg"), Some(3.25));
        let e = parse_quality("a 1\na 2\n", "q.txt").unwrap_err();
        assert!(e.to_string().contains("q.txt:2:"), "{e}");
        let e = parse_quality("a 1\nb\n", "q.txt").unwrap_err();
        assert!(e.to_string().contains("q.txt:2:"), "{e}");
        let e = parse_quality("a 1\nb inf\n", "q.txt").unwrap_err();
        assert!(e.to_string().contains("q.txt:2:"), "{e}");
    }

    #[test]
    fn join_orients_and_takes_the_minimum() {
        let c = parse_comparisons("a b 1 0.5\nb c 0 0.1\n", "c.txt").unwrap();
        let q = parse_quality("a 10\nb 20\nc 5\n", "q.txt").unwrap();
        let lo = pairs(&c, &q, Orientation::LowerIsBetter, "c.txt").unwrap();
        assert_eq!(lo[0].quality, -20.0);
        assert_eq!(lo[1].quality, -20.0);
        let hi = pairs(&c, &q, Orientation::HigherIsBetter, "c.txt").unwrap();
        assert_eq!(hi[0].quality, 10.0);
        assert_eq!(hi[1].quality, 5.0);
        let q2 = parse_quality("a 10\nb 20\n", "q2.txt").unwrap();
        let e = pairs(&c, &q2, Orientation::LowerIsBetter, "c.txt").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("`c`") && msg.contains("q2.txt") && msg.contains("c.txt:2"),
            "{msg}"
        );
    }
}
