//! The `grafiqs` binary: reference-compatible output files, conversion, inspection, and
//! behaviour on bad input.

mod common;

use std::path::Path;

use common::*;

fn parse_scores(path: &Path) -> Vec<(String, f64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (p, v) = l.rsplit_once(' ').unwrap();
            (p.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// Scoring a folder writes the five reference-format files, in sorted order, with the
/// reference's BGR default and `--bgr2rgb`, and `--path-replace` rewrites the prefix.
#[test]
fn score_folder_matches_reference_in_both_channel_orders() {
    let fx = json(fixtures().join("tiny_expected.json"));
    let imgs = tmpdir("imgs");
    for f in ["tiny_img0.png", "tiny_img_odd.png"] {
        std::fs::copy(fixtures().join(f), imgs.join(f)).unwrap();
    }
    std::fs::write(imgs.join("notes.txt"), "not an image").unwrap();
    let pth = fixtures().join("tiny_iresnet.pth");
    for bgr in [true, false] {
        let out = tmpdir(if bgr { "out-bgr" } else { "out-rgb" });
        let mut args = vec![
            "score",
            "--image-path",
            s(&imgs),
            "--image-extension",
            "png",
            "--output-dir",
            s(&out),
            "--weights",
            s(&pth),
            "--backbone",
            "iresnet",
            "--path-replace",
            s(&imgs),
            "--path-replace-with",
            "/data/faces",
            "--quiet",
        ];
        if !bgr {
            args.push("--bgr2rgb");
        }
        let o = grafiqs(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for kind in ["image", "block1", "block2", "block3", "block4"] {
            let lines = parse_scores(&out.join(format!("GraFIQs_{kind}.txt")));
            let names: Vec<&str> = lines.iter().map(|(p, _)| p.as_str()).collect();
            assert_eq!(
                names,
                ["/data/faces/tiny_img0.png", "/data/faces/tiny_img_odd.png"]
            );
            for (path, value) in &lines {
                let file = Path::new(path).file_name().unwrap().to_str().unwrap();
                let case = fx["cases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["file"] == file && c["bgr"] == bgr)
                    .unwrap();
                let want = case["scores"][kind].as_f64().unwrap();
                assert!(
                    rel(*value, want) < 1e-3,
                    "{file} {kind} bgr={bgr}: {value} vs {want}"
                );
            }
        }
    }
}

#[test]
fn unreadable_images_are_reported_and_skipped() {
    let imgs = tmpdir("bad");
    std::fs::copy(fixtures().join("tiny_img1.png"), imgs.join("a.png")).unwrap();
    std::fs::write(imgs.join("b.png"), b"\x89PNG truncated").unwrap();
    std::fs::copy(fixtures().join("tiny_img2.png"), imgs.join("c.png")).unwrap();
    let out = tmpdir("bad-out");
    let json_path = out.join("r.json");
    let o = grafiqs(&[
        "score",
        "--image-path",
        s(&imgs),
        "--image-extension",
        "png",
        "--output-dir",
        s(&out),
        "--weights",
        s(&fixtures().join("tiny_iresnet.pth")),
        "--backbone",
        "iresnet",
        "--batch-size",
        "2",
        "--json",
        s(&json_path),
        "--embeddings",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("b.png"), "{err}");
    let lines = parse_scores(&out.join("GraFIQs_block1.txt"));
    assert_eq!(lines.len(), 2);
    let j = json(&json_path);
    assert_eq!(j["results"].as_array().unwrap().len(), 2);
    assert_eq!(j["results"][0]["embedding"].as_array().unwrap().len(), 16);
    assert_eq!(j["backend"], "cpu");
}

#[test]
fn convert_inspect_and_score_with_converted_model() {
    let dir = tmpdir("convert");
    let model = dir.join("tiny.grafiqs");
    let o = grafiqs(&[
        "convert",
        "--weights",
        s(&fixtures().join("tiny_iresnet.pth")),
        "--backbone",
        "iresnet",
        "--out",
        s(&model),
        "--f16",
        "--licence",
        "test weights",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = grafiqs(&["inspect", s(&model), "--json"]);
    assert!(o.status.success());
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["architecture"], "iresnet");
    assert_eq!(info["batchnormLayers"], 21);
    assert_eq!(info["provenance"]["licence"], "test weights");
    assert_eq!(info["provenance"]["source"], "tiny_iresnet.pth");
    let o = grafiqs(&[
        "score",
        s(&fixtures().join("tiny_img0.png")),
        "--model",
        s(&model),
        "--output-dir",
        s(&dir),
        "--bgr2rgb",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(parse_scores(&dir.join("GraFIQs_image.txt")).len(), 1);
}

#[test]
fn fatal_errors_exit_2_with_a_message() {
    let o = grafiqs(&["inspect", "/nonexistent/model.grafiqs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/model.grafiqs"));
    let o = grafiqs(&[
        "score",
        s(&fixtures().join("tiny_img0.png")),
        "--weights",
        s(&fixtures().join("tiny_iresnet.pth")),
        "--backbone",
        "iresnet100",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing key"));
    let o = grafiqs(&[
        "score",
        "--quiet",
        "--model",
        s(&fixtures().join("tiny_img0.png")),
    ]);
    assert_eq!(o.status.code(), Some(2));
}
