//! Evaluation of quality scores the way the FIQA literature does it.
//!
//! * [`edc`]: Error-versus-Discard Characteristic curves — FNMR at a fixed FMR after
//!   discarding the lowest-quality comparisons, with the threshold re-estimated at each step
//!   or fixed from the full set, their (partial) areas, and the random-order baseline. Every
//!   rule (thresholds, ties, empty steps) is spelled out there.
//! * [`sweep`]: do the scores track image damage? Pooled Spearman correlations
//!   ([`stats`]) of severity with each raw score over five controlled degradations.
//! * [`same_different`]: a same/different-person EDC check on faces with identities, and
//!   [`labels`], the `labels.csv` parser for face folders.
//! * [`io`]: parsing of comparison files (`pathA pathB is_same similarity`) and quality-score
//!   files (`path score`) from text, with errors naming `file:line`, and joining the two into
//!   [`Pair`]s.
//! * [`pairs`]: a benchmark's pair protocol (`a b same|diff fold`), 10-fold verification
//!   accuracy and TAR at a fixed FMR.
//!
//! No file access happens here: the functions take text and values, so the module builds for
//! WebAssembly as well (the scoring drivers in [`sweep`] and [`same_different`] are native only).
//!
//! ```
//! use grafiqs::eval::{edc, io, Orientation, Protocol};
//!
//! let comparisons = io::parse_comparisons(
//!     "a b 1 0.9\nc d 1 0.2\na c 0 0.3\nb d 0 0.1\n",
//!     "comparisons.txt",
//! )?;
//! // Raw GraFIQs scores: larger = worse.
//! let quality = io::parse_quality("a 1.0\nb 2.0\nc 9.0\nd 3.0\n", "GraFIQs_image.txt")?;
//! let pairs = io::pairs(&comparisons, &quality, Orientation::LowerIsBetter, "comparisons.txt")?;
//! let curve = edc::edc(&pairs, 1e-3, Protocol::Reestimate)?;
//! assert_eq!(curve.curve.fnmr[0], 0.5); // threshold 0.3: the 0.2 genuine pair is rejected
//! # Ok::<(), grafiqs::Error>(())
//! ```

pub mod edc;
pub mod io;
pub mod labels;
pub mod pairs;
pub mod same_different;
pub mod stats;
pub mod sweep;

pub use edc::{Curve, Edc, Orientation, Pair, Protocol, RandomBaseline};
