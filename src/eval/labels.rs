//! The `labels.csv` of a face folder (`file,identity[,width,height,kind,landmarks]`).

use crate::error::{Error, Result};

/// One row of a `labels.csv` (`file,identity[,width,height,kind,landmarks]`, as in the test
/// assets' `faces/lfw-colour` and `faces/lfw-gray-crops`).
#[derive(Clone, Debug, PartialEq)]
pub struct LabelRow {
    /// Image file name, relative to the folder of the CSV.
    pub file: String,
    /// Identity.
    pub identity: String,
    /// Five landmarks (left eye, right eye, nose, left and right mouth corner) in image
    /// pixels, when the row has them.
    pub landmarks: Option<[[f64; 2]; 5]>,
}

/// Parses a `labels.csv`: a header line, then `file,identity` and optionally, in the sixth
/// column, ten space-separated landmark coordinates `x1 y1 … x5 y5`. A blank landmark column
/// gives `None`; anything else malformed is an error naming `source:line`.
pub fn parse_labels(text: &str, source: &str) -> Result<Vec<LabelRow>> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        let bad = |what: &str| Error::Input(format!("{source}:{}: {what}", n + 1));
        if cols.len() < 2 || cols[0].trim().is_empty() {
            return Err(bad("expected `file,identity,…`"));
        }
        let landmarks = match cols.get(5).map(|c| c.trim()) {
            None | Some("") => None,
            Some(c) => {
                let nums: Vec<f64> = c
                    .split_whitespace()
                    .map(|v| v.parse::<f64>())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| bad("landmarks are not numbers"))?;
                if nums.len() != 10 || nums.iter().any(|v| !v.is_finite()) {
                    return Err(bad("landmarks need 10 finite numbers (x1 y1 … x5 y5)"));
                }
                Some(std::array::from_fn(|i| [nums[2 * i], nums[2 * i + 1]]))
            }
        };
        rows.push(LabelRow {
            file: cols[0].trim().to_string(),
            identity: cols[1].trim().to_string(),
            landmarks,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_csv() {
        let t = "file,identity,w,h,kind,lm\na.jpg,A,250,250,x,1 2 3 4 5 6 7 8 9 10\nb.jpg,B\nc.jpg,C,1,1,x,\n";
        let rows = parse_labels(t, "labels.csv").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].landmarks.unwrap()[4], [9.0, 10.0]);
        assert!(rows[1].landmarks.is_none() && rows[2].landmarks.is_none());
        let e = parse_labels("h\na.jpg,A,1,1,x,1 2 3\n", "l.csv").unwrap_err();
        assert!(e.to_string().contains("l.csv:2"), "{e}");
    }
}
