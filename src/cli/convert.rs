//! `grafiqs convert` and `grafiqs inspect`.

use std::path::PathBuf;

use grafiqs::report::ModelInfo;
use grafiqs::{Error, Model, Result, Storage};

use super::{ModelArgs, read};

#[derive(clap::Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Output file (.grafiqs).
    #[arg(long)]
    out: PathBuf,
    /// Store convolution / fully-connected weights as 16-bit floats (half the size).
    #[arg(long)]
    f16: bool,
    /// Licence / usage note recorded in the file's provenance.
    #[arg(long)]
    licence: Option<String>,
    /// Name reported with results (default: the output file's stem).
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// A .grafiqs model file (`default`: the shipped model).
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ConvertArgs) -> Result<i32> {
    if args.model.weights.is_none() && args.model.model.is_none() {
        return Err(Error::Input("convert needs --weights <checkpoint>".into()));
    }
    let mut model = args.model.load()?;
    if let Some(l) = args.licence {
        model.set_licence(Some(l));
    }
    model.set_name(args.name.clone().or_else(|| {
        args.out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
    }));
    let storage = if args.f16 { Storage::F16 } else { Storage::F32 };
    let bytes = model.to_bytes(storage);
    // Read back what was written: a file that does not load is never left behind silently.
    Model::from_bytes(&bytes)?;
    std::fs::write(&args.out, &bytes).map_err(|e| Error::io(&args.out, e))?;
    eprintln!(
        "wrote {} ({}, {} parameters, {} BatchNorm layers, {:.2} MB, {})",
        args.out.display(),
        model.meta().architecture,
        model.info().parameter_count,
        model.batchnorm_count(),
        bytes.len() as f64 / 1e6,
        if args.f16 { "f16" } else { "f32" }
    );
    Ok(0)
}

pub fn inspect(args: InspectArgs) -> Result<i32> {
    let bytes = if args.file.as_os_str() == "default" && !args.file.exists() {
        grafiqs::model::BUNDLED_MODEL.to_vec()
    } else {
        read(&args.file)?
    };
    let model = Model::from_bytes(&bytes)?;
    let info = model.info();
    let m = model.meta();
    if args.json {
        #[derive(serde::Serialize)]
        struct Inspect<'a> {
            file: String,
            bytes: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            iresnet: Option<&'a grafiqs::model::arch::iresnet::IResNetConfig>,
            #[serde(flatten)]
            info: ModelInfo<'a>,
        }
        let (default_cal, calibrated) = match &m.calibration {
            Some(c) => (c.clone(), true),
            None => (grafiqs::Calibration::default_mapping(), false),
        };
        let v = Inspect {
            file: args.file.display().to_string(),
            bytes: bytes.len(),
            iresnet: m.iresnet.as_ref(),
            info: ModelInfo::new(&model, &default_cal, calibrated),
        };
        let text =
            serde_json::to_string_pretty(&v).map_err(|e| Error::Internal(format!("JSON: {e}")))?;
        println!("{text}");
        return Ok(0);
    }
    println!(
        "file:              {} ({} bytes)",
        args.file.display(),
        bytes.len()
    );
    println!("name:              {}", model.name());
    println!("architecture:      {}", m.architecture);
    if let Some(c) = &m.iresnet {
        println!(
            "iresnet layout:    blocks {:?}, widths {:?}",
            c.blocks, c.widths
        );
    }
    println!("parameters:        {}", info.parameter_count);
    println!(
        "batchnorm layers:  {} (2-D, used by GraFIQs)",
        info.scored_batchnorms.len()
    );
    println!("embedding size:    {}", info.embedding_size);
    println!(
        "input:             {}x{} RGB, (x - {:?}) * {:?}",
        m.input_size[0], m.input_size[1], m.preprocess.mean, m.preprocess.scale
    );
    println!("stages:            {}", m.stages.join(", "));
    println!("source:            {}", m.provenance.source);
    println!("source sha256:     {}", m.provenance.sha256);
    println!("converted by:      {}", m.provenance.converted_by);
    if let Some(l) = &m.provenance.licence {
        println!("licence:           {l}");
    }
    match &m.calibration {
        Some(c) => println!(
            "calibration:       {} ({} knots, {})",
            c.score.name(),
            c.knots.len(),
            c.method
        ),
        None => println!("calibration:       none (default mapping)"),
    }
    Ok(0)
}
