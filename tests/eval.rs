//! Error-versus-Discard curves: a case computed by hand, edge cases, a cross-check against the
//! independent numpy reference (`tests/reference/edc_reference.py`, fixture
//! `tests/fixtures/edc_expected.json`), and the `grafiqs eval edc` command.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use grafiqs::eval::edc::{self, discard_fractions};
use grafiqs::eval::{Orientation, Pair, Protocol, io};
use grafiqs::rng::SplitMix64;

/// Values from the numpy reference must match to this absolute tolerance.
const TOL: f64 = 1e-12;

// ---------------------------------------------------------------------------------------------
// A case computed by hand: 6 genuine + 6 impostor pairs.
//
// Rank r = position by pair quality (ascending); pair r is `p{r}a.jpg` vs `p{r}b.jpg`, except
// r5 which reuses `p4a.jpg`. Raw scores (larger = worse; raw(a) ≥ 45 > 21 ≥ raw(b), with
// raw(b) = 21 − r) make `a` the worse image of each pair, so the pair quality is −raw(a): r0 −100, r1 −95, r2 −90, r3 −85, r4 −80, r5 −80 (tie
// with r4 through the shared image), r6 −70, r7 −65, r8 −60, r9 −55, r10 −50, r11 −45.
// The lines are listed out of order; r4 comes before r5, so r4 is discarded first.
//
//   rank  label     similarity
//   r0    genuine   0.10
//   r1    impostor  0.55
//   r2    genuine   0.52
//   r3    impostor  0.50
//   r4    genuine   0.60
//   r5    impostor  0.20
//   r6    genuine   0.35
//   r7    impostor  0.35
//   r8    genuine   0.80
//   r9    impostor  0.10
//   r10   genuine   0.08
//   r11   impostor  0.05
//
// N = 12, so step k discards D = ⌊12k/20⌋ pairs:
//   k: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19
//   D: 0 0 1 1 2 3 3 4 4 5  6  6  7  7  8  9  9 10 10 11
// and ranks ≥ D remain.
//
// Target FMR 1e-3 with ≤ 6 impostors: the candidate FMRs are m/n ≥ 1/6, the nearest is 1/n,
// i.e. the threshold is the highest remaining impostor similarity.
//
// fixed: t = 0.55 throughout. False non-matches (similarity < 0.55): r0, r2, r6, r10.
//   D0: 4/6   D1: {2,6,10}/5 = 3/5   D2: 3/5   D3: {6,10}/4 = 1/2   D4: 1/2
//   D5: {6,10}/{6,8,10} = 2/3   D6: 2/3   D7: {10}/{8,10} = 1/2   D8: 1/2
//   D9: {10}/{10} = 1   D10: 1   D11: no genuine left → repeat 1
//
// reestimate: t = highest remaining impostor.
//   D0 t .55: 4/6          D1 t .55: 3/5
//   D2 t .50 (r1 gone): gen {2 .52, 4, 6 .35, 8, 10 .08} → {6,10} = 2/5
//   D3 t .50: gen {4,6,8,10} → {6,10} = 2/4
//   D4 t .35 (r3 gone): gen {4,6 .35,8,10} → r6 equals t, a match → {10} = 1/4
//   D5 t .35: {10}/{6,8,10} = 1/3   D6 t .35 (r5 gone): 1/3   D7 t .35: {10}/{8,10} = 1/2
//   D8 t .10 (r7 gone): r10 .08 < .10 → 1/2   D9 t .10: 1/1
//   D10 t .05 (r9 gone): r10 .08 ≥ .05 → 0/1 = 0   D11: no genuine left → repeat 0
//
// Areas (trapezoids, dx = 0.05, not normalised): area to step K = 0.05·(y0/2 + y1 + … +
// y(K−1) + yK/2).
//   fixed:      pAUC0.2 = 0.05·(1/3 + 2/3+3/5+3/5 + 3/10)          = 0.05·2.5  = 0.125
//               pAUC0.3 = 0.05·(1/3 + 2/3+3/5+3/5+3/5+1/2 + 1/4)   = 0.05·3.55 = 0.1775
//               AUC     = 0.05·(1/3 + 359/30 + 1/2)                 = 0.05·12.8 = 0.64
//   reestimate: pAUC0.2 = 0.05·(1/3 + 2/3+3/5+3/5 + 1/5)           = 0.05·2.4  = 0.12
//               pAUC0.3 = 0.05·(1/3 + 2/3+3/5+3/5+2/5+1/2 + 1/4)   = 0.05·3.35 = 0.1675
//               AUC     = 0.05·(1/3 + 248/30 + 0)                   = 0.05·8.6  = 0.43

const HAND_COMPARISONS: &str = "\
# rank 7, 4, 0, 10, 5, 2, 11, 1, 9, 6, 3, 8
p7a.jpg p7b.jpg diff 0.35
p4a.jpg p4b.jpg same 0.60
p0a.jpg p0b.jpg 1 0.10
p10a.jpg p10b.jpg true 0.08
p4a.jpg p5b.jpg 0 0.20
p2a.jpg p2b.jpg genuine 0.52
p11a.jpg p11b.jpg false 0.05
p1a.jpg p1b.jpg impostor 0.55

p9a.jpg p9b.jpg 0 0.10
p6a.jpg p6b.jpg 1 0.35
p3a.jpg p3b.jpg 0 0.50
p8a.jpg p8b.jpg 1 0.80
";

const HAND_QUALITY: &str = "\
p0a.jpg 100
p0b.jpg 21
p1a.jpg 95
p1b.jpg 20
p2a.jpg 90
p2b.jpg 19
p3a.jpg 85
p3b.jpg 18
p4a.jpg 80
p4b.jpg 17
p5b.jpg 16
p6a.jpg 70
p6b.jpg 15
p7a.jpg 65
p7b.jpg 14
p8a.jpg 60
p8b.jpg 13
p9a.jpg 55
p9b.jpg 12
p10a.jpg 50
p10b.jpg 11
p11a.jpg 45
p11b.jpg 10
";

const FIXED_FNMR: [f64; 20] = [
    4.0 / 6.0,
    4.0 / 6.0,
    3.0 / 5.0,
    3.0 / 5.0,
    3.0 / 5.0,
    0.5,
    0.5,
    0.5,
    0.5,
    2.0 / 3.0,
    2.0 / 3.0,
    2.0 / 3.0,
    0.5,
    0.5,
    0.5,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
];

const REESTIMATE_FNMR: [f64; 20] = [
    4.0 / 6.0,
    4.0 / 6.0,
    3.0 / 5.0,
    3.0 / 5.0,
    2.0 / 5.0,
    0.5,
    0.5,
    0.25,
    0.25,
    1.0 / 3.0,
    1.0 / 3.0,
    1.0 / 3.0,
    0.5,
    0.5,
    0.5,
    1.0,
    1.0,
    0.0,
    0.0,
    0.0,
];

const REESTIMATE_THRESHOLD: [f64; 20] = [
    0.55, 0.55, 0.55, 0.55, 0.50, 0.50, 0.50, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.10, 0.10,
    0.10, 0.05, 0.05, 0.05,
];

fn hand_pairs(orientation: Orientation, quality: &str) -> Vec<Pair> {
    let c = io::parse_comparisons(HAND_COMPARISONS, "hand.txt").unwrap();
    let q = io::parse_quality(quality, "hand_quality.txt").unwrap();
    io::pairs(&c, &q, orientation, "hand.txt").unwrap()
}

fn assert_close(label: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{label}: length");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{label}[{k}]: got {g}, want {w}\n{got:?}"
        );
    }
}

#[test]
fn hand_case_fixed() {
    let pairs = hand_pairs(Orientation::LowerIsBetter, HAND_QUALITY);
    let e = edc::edc(&pairs, 1e-3, Protocol::Fixed).unwrap();
    assert_close("fnmr", &e.curve.fnmr, &FIXED_FNMR, 1e-15);
    assert_eq!(e.threshold, vec![0.55; 20]);
    assert_eq!(e.curve.discard, discard_fractions().to_vec());
    assert!(
        (e.curve.pauc_02 - 0.125).abs() < 1e-12,
        "{}",
        e.curve.pauc_02
    );
    assert!(
        (e.curve.pauc_03 - 0.1775).abs() < 1e-12,
        "{}",
        e.curve.pauc_03
    );
    assert!((e.curve.auc - 0.64).abs() < 1e-12, "{}", e.curve.auc);
    let gen_left: Vec<usize> = vec![6, 6, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 2, 2, 2, 1, 1, 1, 1, 0];
    let imp_left: Vec<usize> = vec![6, 6, 6, 6, 5, 5, 5, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 1, 1, 1];
    assert_eq!(e.genuine_remaining, gen_left);
    assert_eq!(e.impostor_remaining, imp_left);
    // Step 0: 1 of 6 impostors at or above 0.55; step 19: r11 (0.05) is below it.
    assert!((e.fmr_at_threshold[0] - 1.0 / 6.0).abs() < 1e-15);
    assert_eq!(e.fmr_at_threshold[19], 0.0);
}

#[test]
fn hand_case_reestimate() {
    let pairs = hand_pairs(Orientation::LowerIsBetter, HAND_QUALITY);
    let e = edc::edc(&pairs, 1e-3, Protocol::Reestimate).unwrap();
    assert_close("fnmr", &e.curve.fnmr, &REESTIMATE_FNMR, 1e-15);
    assert_eq!(e.threshold, REESTIMATE_THRESHOLD.to_vec());
    assert!(
        (e.curve.pauc_02 - 0.12).abs() < 1e-12,
        "{}",
        e.curve.pauc_02
    );
    assert!(
        (e.curve.pauc_03 - 0.1675).abs() < 1e-12,
        "{}",
        e.curve.pauc_03
    );
    assert!((e.curve.auc - 0.43).abs() < 1e-12, "{}", e.curve.auc);
    // The highest remaining impostor is always the threshold: FMR = 1/remaining.
    for (k, (f, n)) in e
        .fmr_at_threshold
        .iter()
        .zip(&e.impostor_remaining)
        .enumerate()
    {
        assert!((f - 1.0 / *n as f64).abs() < 1e-15, "step {k}");
    }
}

#[test]
fn hand_case_orientation_is_a_sign_flip() {
    let negated: String = HAND_QUALITY
        .lines()
        .map(|l| {
            let (p, v) = l.split_once(' ').unwrap();
            format!("{p} -{v}\n")
        })
        .collect();
    let pairs = hand_pairs(Orientation::HigherIsBetter, &negated);
    for (protocol, want) in [
        (Protocol::Fixed, FIXED_FNMR),
        (Protocol::Reestimate, REESTIMATE_FNMR),
    ] {
        let e = edc::edc(&pairs, 1e-3, protocol).unwrap();
        assert_close("fnmr", &e.curve.fnmr, &want, 1e-15);
    }
    // Read the other way round, the pair quality is min(raw) = raw(b) = 21 − r: the best pairs
    // are discarded first, a different curve.
    let wrong = hand_pairs(Orientation::HigherIsBetter, HAND_QUALITY);
    let e = edc::edc(&wrong, 1e-3, Protocol::Fixed).unwrap();
    assert_ne!(e.curve.fnmr, FIXED_FNMR.to_vec());
}

#[test]
fn hand_case_tie_order_matters() {
    // Swapping the input order of the tied r4 (genuine) and r5 (impostor) changes step 9
    // (D = 5): r5 is then discarded before r4, leaving genuine {4, 6, 8, 10} → fixed FNMR
    // {6, 10}/4 = 1/2 instead of 2/3.
    let swapped = HAND_COMPARISONS
        .replace("p4a.jpg p4b.jpg same 0.60\n", "")
        .replace(
            "p4a.jpg p5b.jpg 0 0.20\n",
            "p4a.jpg p5b.jpg 0 0.20\np4a.jpg p4b.jpg same 0.60\n",
        );
    let c = io::parse_comparisons(&swapped, "swapped.txt").unwrap();
    let q = io::parse_quality(HAND_QUALITY, "q.txt").unwrap();
    let pairs = io::pairs(&c, &q, Orientation::LowerIsBetter, "swapped.txt").unwrap();
    let e = edc::edc(&pairs, 1e-3, Protocol::Fixed).unwrap();
    let mut want = FIXED_FNMR;
    want[9] = 0.5;
    assert_close("fnmr", &e.curve.fnmr, &want, 1e-15);
}

#[test]
fn hand_case_other_target_fmr() {
    // FMR 0.3 on the 6 impostors {.55, .50, .35, .20, .10, .05}: m/6 nearest 0.3 is 2/6
    // (distance 0.033 vs 0.133 for 1/6), threshold 0.50; at step 0 the genuine pairs below
    // it are r0 (.10), r6 (.35), r10 (.08): 3/6.
    let pairs = hand_pairs(Orientation::LowerIsBetter, HAND_QUALITY);
    let e = edc::edc(&pairs, 0.3, Protocol::Fixed).unwrap();
    assert_eq!(e.threshold[0], 0.50);
    assert_eq!(e.curve.fnmr[0], 0.5);
    assert!((e.fmr_at_threshold[0] - 2.0 / 6.0).abs() < 1e-15);
}

#[test]
fn missing_quality_names_the_path() {
    let c = io::parse_comparisons(HAND_COMPARISONS, "hand.txt").unwrap();
    let partial: String = HAND_QUALITY
        .lines()
        .filter(|l| !l.starts_with("p9b.jpg"))
        .map(|l| format!("{l}\n"))
        .collect();
    let q = io::parse_quality(&partial, "partial.txt").unwrap();
    let e = io::pairs(&c, &q, Orientation::LowerIsBetter, "hand.txt").unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, grafiqs::Error::Input(_)), "{msg}");
    assert!(msg.contains("p9b.jpg") && msg.contains("partial.txt") && msg.contains("hand.txt:11"));
}

#[test]
fn all_genuine_is_a_clear_error() {
    let c = io::parse_comparisons("a b 1 0.9\nc d 1 0.5\n", "c.txt").unwrap();
    let q = io::parse_quality("a 1\nb 2\nc 3\nd 4\n", "q.txt").unwrap();
    let pairs = io::pairs(&c, &q, Orientation::LowerIsBetter, "c.txt").unwrap();
    for protocol in [Protocol::Fixed, Protocol::Reestimate] {
        let e = edc::edc(&pairs, 1e-3, protocol).unwrap_err();
        assert!(e.to_string().contains("no impostor"), "{e}");
        let e = edc::random_baseline(&pairs, 1e-3, protocol, 10, 0).unwrap_err();
        assert!(e.to_string().contains("no impostor"), "{e}");
    }
}

#[test]
fn all_qualities_tied_keeps_input_order() {
    // Every pair has the same quality: discarding follows the input order exactly.
    let text = "a b 1 0.1\nc d 1 0.9\ne f 0 0.5\ng h 1 0.2\n";
    let c = io::parse_comparisons(text, "c.txt").unwrap();
    let q = io::parse_quality("a 0\nb 0\nc 0\nd 0\ne 0\nf 0\ng 0\nh 0\n", "q.txt").unwrap();
    let pairs = io::pairs(&c, &q, Orientation::LowerIsBetter, "c.txt").unwrap();
    assert_eq!(edc::discard_order(&pairs), vec![0, 1, 2, 3]);
    let e = edc::edc(&pairs, 1e-3, Protocol::Fixed).unwrap();
    // t = 0.5. D = ⌊4k/20⌋: k 0-4 → 0 (2/3), k 5-9 → 1 (b: {.9,.2} → 1/2), k 10-14 → 2
    // ({.2} → 1), k 15-19 → 3 ({.2} → 1).
    let mut want = vec![2.0 / 3.0; 5];
    want.extend([0.5; 5]);
    want.extend([1.0; 10]);
    assert_close("fnmr", &e.curve.fnmr, &want, 1e-15);
}

#[test]
fn random_baseline_is_seeded_and_matches_edc_of_its_order() {
    let pairs = hand_pairs(Orientation::LowerIsBetter, HAND_QUALITY);
    for protocol in [Protocol::Fixed, Protocol::Reestimate] {
        let a = edc::random_baseline(&pairs, 1e-3, protocol, 50, 9).unwrap();
        let b = edc::random_baseline(&pairs, 1e-3, protocol, 50, 9).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.orders, a.seed), (50, 9));
        let c = edc::random_baseline(&pairs, 1e-3, protocol, 50, 10).unwrap();
        assert_ne!(a.curve.fnmr, c.curve.fnmr);
        // Nothing is discarded at step 0, so every order gives the full-set FNMR.
        assert!((a.curve.fnmr[0] - 4.0 / 6.0).abs() < 1e-15);

        // One order = the EDC of a method whose quality is the position in that order.
        let one = edc::random_baseline(&pairs, 1e-3, protocol, 1, 123).unwrap();
        let mut perm: Vec<usize> = (0..pairs.len()).collect();
        SplitMix64::new(123).shuffle(&mut perm);
        let mut ranked = pairs.clone();
        for (pos, &i) in perm.iter().enumerate() {
            ranked[i].quality = pos as f64;
        }
        let e = edc::edc(&ranked, 1e-3, protocol).unwrap();
        assert_eq!(one.curve, e.curve);
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-check against the numpy reference.

fn fixture_text(name: &str) -> String {
    String::from_utf8(read(fixtures().join(name))).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn protocol_of(name: &str) -> Protocol {
    match name {
        "reestimate" => Protocol::Reestimate,
        "fixed" => Protocol::Fixed,
        other => panic!("protocol {other}"),
    }
}

fn orientation_of(name: &str) -> Orientation {
    match name {
        "lower-is-better" => Orientation::LowerIsBetter,
        "higher-is-better" => Orientation::HigherIsBetter,
        other => panic!("orientation {other}"),
    }
}

fn check_areas(label: &str, curve: &edc::Curve, want: &serde_json::Value) {
    for (key, got) in [
        ("auc", curve.auc),
        ("pauc_0.2", curve.pauc_02),
        ("pauc_0.3", curve.pauc_03),
    ] {
        let w = want[key].as_f64().unwrap();
        assert!((got - w).abs() <= TOL, "{label} {key}: got {got}, want {w}");
    }
}

#[test]
fn matches_numpy_reference() {
    let fx = json(fixtures().join("edc_expected.json"));
    let comparisons =
        io::parse_comparisons(&fixture_text("edc_comparisons.txt"), "edc_comparisons.txt").unwrap();
    assert_eq!(
        comparisons.len() as u64,
        fx["comparisons"]["total"].as_u64().unwrap()
    );
    assert_eq!(floats(&fx["discard"]), discard_fractions().to_vec());

    // The random orders are the reference's.
    let mut perm: Vec<usize> = (0..comparisons.len()).collect();
    SplitMix64::new(0).shuffle(&mut perm);
    let head: Vec<u64> = fx["first_random_order_head"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(
        perm[..head.len()]
            .iter()
            .map(|&i| i as u64)
            .collect::<Vec<_>>(),
        head
    );

    let mut checked = 0;
    for case in fx["cases"].as_array().unwrap() {
        let fmr = case["fmr"].as_f64().unwrap();
        let protocol = protocol_of(case["protocol"].as_str().unwrap());
        let mut any_pairs = None;
        for m in case["methods"].as_array().unwrap() {
            let file = m["file"].as_str().unwrap();
            let orientation = orientation_of(m["orientation"].as_str().unwrap());
            let q = io::parse_quality(&fixture_text(file), file).unwrap();
            let pairs = io::pairs(&comparisons, &q, orientation, "edc_comparisons.txt").unwrap();
            let e = edc::edc(&pairs, fmr, protocol).unwrap();
            let label = format!("{file} FMR {fmr} {protocol:?}");
            assert_close(&label, &e.curve.fnmr, &floats(&m["fnmr"]), TOL);
            assert_eq!(e.threshold, floats(&m["threshold"]), "{label} thresholds");
            check_areas(&label, &e.curve, m);
            any_pairs.get_or_insert(pairs);
            checked += 1;
        }
        let r = &case["random"];
        let orders = r["orders"].as_u64().unwrap() as usize;
        let seed = r["seed"].as_u64().unwrap();
        let base = edc::random_baseline(&any_pairs.unwrap(), fmr, protocol, orders, seed).unwrap();
        let label = format!("random FMR {fmr} {protocol:?}");
        assert_close(&label, &base.curve.fnmr, &floats(&r["fnmr"]), TOL);
        check_areas(&label, &base.curve, r);
        checked += 1;
    }
    assert_eq!(checked, 16, "2 FMRs × 2 protocols × (3 methods + random)");
}

// ---------------------------------------------------------------------------------------------
// The command-line tool.

fn expected_case(fmr: f64, protocol: &str) -> serde_json::Value {
    let fx = json(fixtures().join("edc_expected.json"));
    fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fmr"].as_f64() == Some(fmr) && c["protocol"] == protocol)
        .unwrap()
        .clone()
}

#[test]
fn cli_edc_several_methods() {
    let dir = tmpdir("several");
    let (out_json, out_csv, out_svg) = (
        dir.join("edc.json"),
        dir.join("edc.csv"),
        dir.join("edc.svg"),
    );
    let fx = fixtures();
    let o = grafiqs(&[
        "eval",
        "edc",
        "--comparisons",
        s(&fx.join("edc_comparisons.txt")),
        "--quality",
        s(&fx.join("edc_quality_a.txt")),
        "--quality",
        s(&fx.join("edc_quality_b.txt")),
        "--fmr",
        "1e-3",
        "--protocol",
        "fixed",
        "--json",
        s(&out_json),
        "--csv",
        s(&out_csv),
        "--svg",
        s(&out_svg),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("edc_quality_a") && stderr.contains("random"),
        "{stderr}"
    );

    let got = json(&out_json);
    let want = expected_case(1e-3, "fixed");
    assert_eq!(got["protocol"], "fixed");
    assert_eq!(got["fmr"].as_f64(), Some(1e-3));
    assert_eq!(got["orientation"], "lower-is-better");
    assert_eq!(got["comparisons"]["total"], 3500);
    assert_eq!(floats(&got["discard"]), discard_fractions().to_vec());
    let methods = got["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 2);
    for (g, w) in methods.iter().zip(want["methods"].as_array().unwrap()) {
        let label = g["method"].as_str().unwrap().to_string();
        assert!(w["file"].as_str().unwrap().starts_with(&label), "{label}");
        assert_close(&label, &floats(&g["fnmr"]), &floats(&w["fnmr"]), TOL);
        assert_eq!(floats(&g["discard"]).len(), 20);
        for key in ["auc", "pauc_0.2", "pauc_0.3"] {
            let (a, b) = (g[key].as_f64().unwrap(), w[key].as_f64().unwrap());
            assert!((a - b).abs() <= TOL, "{label} {key}: {a} vs {b}");
        }
    }
    let r = &got["random"];
    assert_eq!(r["orders"], 100);
    assert_close(
        "random",
        &floats(&r["fnmr"]),
        &floats(&want["random"]["fnmr"]),
        TOL,
    );
    let (a, b) = (
        r["auc"].as_f64().unwrap(),
        want["random"]["auc"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= TOL);

    let csv = std::fs::read_to_string(&out_csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 3 * 20);
    assert!(lines[0].starts_with("method,discard,fnmr"));
    assert!(lines[1].starts_with("edc_quality_a,0,"), "{}", lines[1]);
    assert!(lines[60].starts_with("random,0.95,"), "{}", lines[60]);

    let svg = std::fs::read_to_string(&out_svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("edc_quality_b") && svg.contains("random"));
    assert!(svg.matches("<polyline").count() >= 2, "one line per method");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_edc_single_method_higher_is_better() {
    let dir = tmpdir("single");
    let out_json = dir.join("edc.json");
    let fx = fixtures();
    let o = grafiqs(&[
        "eval",
        "edc",
        "--comparisons",
        s(&fx.join("edc_comparisons.txt")),
        "--quality",
        s(&fx.join("edc_quality_a_hib.txt")),
        "--higher-is-better",
        "--fmr",
        "1e-4",
        "--protocol",
        "reestimate",
        "--json",
        s(&out_json),
        "--random-orders",
        "0",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stderr.is_empty(), "--quiet");
    let got = json(&out_json);
    let want = &expected_case(1e-4, "reestimate")["methods"][0]; // edc_quality_a.txt
    assert_eq!(got["method"], "edc_quality_a_hib");
    assert_eq!(got["orientation"], "higher-is-better");
    assert!(got.get("methods").is_none());
    assert!(got["random"].is_null());
    assert_close("fnmr", &floats(&got["fnmr"]), &floats(&want["fnmr"]), TOL);
    assert_eq!(floats(&got["threshold"]), floats(&want["threshold"]));
    let (a, b) = (got["auc"].as_f64().unwrap(), want["auc"].as_f64().unwrap());
    assert!((a - b).abs() <= TOL);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_edc_malformed_file_names_file_and_line() {
    let dir = tmpdir("malformed");
    let bad = dir.join("bad_comparisons.txt");
    std::fs::write(&bad, "a b 1 0.5\n# comment\nc d 0 not-a-number\n").unwrap();
    let quality = dir.join("q.txt");
    std::fs::write(&quality, "a 1\nb 2\nc 3\nd 4\n").unwrap();
    let out = dir.join("out.json");
    let o = grafiqs(&[
        "eval",
        "edc",
        "--comparisons",
        s(&bad),
        "--quality",
        s(&quality),
        "--protocol",
        "fixed",
        "--json",
        s(&out),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains(&format!("{}:3:", bad.display())),
        "{stderr}"
    );
    assert!(!out.exists());

    // A malformed quality file, and a path missing from it.
    let good = dir.join("comparisons.txt");
    std::fs::write(&good, "a b 1 0.5\nc e 0 0.2\n").unwrap();
    std::fs::write(&quality, "a 1\nb\n").unwrap();
    let args = |q: &Path| {
        vec![
            "eval".to_string(),
            "edc".into(),
            "--comparisons".into(),
            s(&good).into(),
            "--quality".into(),
            s(q).into(),
            "--protocol".into(),
            "reestimate".into(),
            "--json".into(),
            s(&out).into(),
        ]
    };
    let run = |a: Vec<String>| {
        Command::new(env!("CARGO_BIN_EXE_grafiqs"))
            .args(a)
            .output()
            .unwrap()
    };
    let o = run(args(&quality));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains(&format!("{}:2:", quality.display())),
        "{stderr}"
    );
    std::fs::write(&quality, "a 1\nb 2\nc 3\nd 4\n").unwrap();
    let o = run(args(&quality));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("`e`") && stderr.contains(&format!("{}:2", good.display())),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
