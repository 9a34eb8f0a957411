//! Every importer turns damaged, foreign or mismatched input into a precise error, never a
//! panic.

mod common;

use common::*;
use grafiqs::model::arch::iresnet::IResNetConfig;
use grafiqs::{Error, Model, Storage};

fn msg(e: Error) -> String {
    e.to_string()
}

#[test]
fn torch_checkpoint_errors() {
    let pth = read(fixtures().join("tiny_iresnet.pth"));
    // Truncated at many points: always an error.
    for cut in [10, 100, 1000, pth.len() / 2, pth.len() - 30] {
        let e = Model::from_torch(&pth[..cut], "iresnet", "x").unwrap_err();
        assert!(matches!(e, Error::Format(_)), "cut {cut}: {e}");
    }
    // Foreign file.
    let e = Model::from_torch(b"this is not a checkpoint", "iresnet50", "x").unwrap_err();
    assert!(msg(e).contains("not a PyTorch checkpoint"));
    // Right format, wrong architecture: names the first missing key and what it looks like.
    let e = Model::from_torch(&pth, "iresnet50", "x").unwrap_err();
    let m = msg(e);
    assert!(
        m.contains("iresnet50") && m.contains("missing key `layer1.1.bn1.weight`"),
        "{m}"
    );
    assert!(m.contains("blocks [1, 2, 1, 1]"), "{m}");
    // A PyTorch checkpoint is not a MobileFaceNet.
    let e = Model::from_torch(&pth, "mobilefacenet", "x").unwrap_err();
    assert!(matches!(e, Error::Architecture { .. }), "{e}");
}

#[test]
fn state_dict_shape_and_key_mismatches_name_the_key() {
    let state =
        grafiqs::model::torch::read_state_dict(&read(fixtures().join("tiny_iresnet.pth"))).unwrap();
    let cfg = IResNetConfig::infer(&state).unwrap();
    assert_eq!(cfg.widths, [8, 8, 16, 16]);

    let mut bad = state.clone();
    let p = bad.get_mut("layer2.0.conv1.weight").unwrap();
    p.shape = vec![p.shape[0], p.shape[1], 1, 9];
    let m = msg(cfg.from_state_dict(bad).unwrap_err());
    assert!(
        m.contains("layer2.0.conv1.weight") && m.contains("[8, 8, 1, 9], expected [8, 8, 3, 3]"),
        "{m}"
    );

    let mut extra = state.clone();
    extra.insert("head.weight".into(), state["fc.bias"].clone());
    let m = msg(cfg.from_state_dict(extra).unwrap_err());
    assert!(m.contains("unexpected key `head.weight`"), "{m}");

    // DataParallel prefixes are accepted.
    let prefixed = state
        .iter()
        .map(|(k, v)| (format!("module.{k}"), v.clone()))
        .collect();
    assert!(cfg.from_state_dict(prefixed).is_ok());
}

#[test]
fn model_file_errors() {
    let bytes = tiny_model().to_bytes(Storage::F16);
    assert!(Model::from_bytes(&bytes).is_ok());
    for cut in [0, 5, 27, 100, bytes.len() / 2, bytes.len() - 1] {
        let e = Model::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(matches!(e, Error::Format(_)), "cut {cut}: {e}");
    }
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(msg(Model::from_bytes(&flipped).unwrap_err()).contains("checksum mismatch"));
    let mut version = bytes.clone();
    version[8] = 9;
    assert!(msg(Model::from_bytes(&version).unwrap_err()).contains("version 9"));
    let m = msg(Model::from_bytes(&read(fixtures().join("tiny_iresnet.pth"))).unwrap_err());
    assert!(m.contains("grafiqs convert"), "{m}");
}

#[test]
fn mxnet_errors() {
    let Some(assets) = assets() else { return };
    let dir = assets.join("models/insightface-mobilefacenet-y1");
    let params = read(dir.join("model-0000.params"));
    let symbol = String::from_utf8(read(dir.join("model-symbol.json"))).unwrap();
    for cut in [8, 30, 1000, params.len() / 3, params.len() - 5] {
        let e = Model::from_mxnet(&params[..cut], &symbol, "mobilefacenet", None, "x").unwrap_err();
        let m = msg(e);
        assert!(
            m.contains("truncated") || m.contains("offset"),
            "cut {cut}: {m}"
        );
    }
    let e = Model::from_mxnet(&params, "{not json", "mobilefacenet", None, "x").unwrap_err();
    assert!(msg(e).contains("symbol JSON"));
    // A parameter the graph needs is absent.
    let renamed = symbol.replace("\"conv_1_conv2d_weight\"", "\"conv_1_conv2d_weightX\"");
    let m = msg(Model::from_mxnet(&params, &renamed, "mobilefacenet", None, "x").unwrap_err());
    assert!(m.contains("conv_1_conv2d_weightX"), "{m}");
    // An operator outside the supported set.
    let pooled = symbol.replacen("\"op\": \"elemwise_add\"", "\"op\": \"Pooling\"", 1);
    let m = msg(Model::from_mxnet(&params, &pooled, "mobilefacenet", None, "x").unwrap_err());
    assert!(m.contains("unsupported operator `Pooling`"), "{m}");
    // Wrong stage names.
    let m = msg(
        Model::from_mxnet(&params, &symbol, "mxnet", Some(["a", "b", "c", "d"]), "x").unwrap_err(),
    );
    assert!(m.contains("stage node `a`"), "{m}");
    // MXNet weights under an iResNet name.
    let e = Model::from_mxnet(&params, &symbol, "iresnet50", None, "x").unwrap_err();
    assert!(matches!(e, Error::Architecture { .. }));
}
