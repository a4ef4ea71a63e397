//! `slimmable op`: one operator on tensors from a file.

use crate::backend::{self, BackendKind};
use crate::error::{Error, Result};
use crate::{op_runner, tensor_io};
use std::collections::HashMap;
use std::path::Path;

pub fn run(
    op: &str,
    params: &str,
    inputs: Option<&Path>,
    out: Option<&Path>,
    kind: BackendKind,
) -> Result<i32> {
    if op == "list" {
        for (name, usage) in op_runner::OPS {
            println!("{name:<12} {usage}");
        }
        return Ok(0);
    }
    let params = super::json_or_file(params, "--params")?;
    let inputs = match inputs {
        Some(p) if p.is_dir() => {
            return Err(Error::io(
                p,
                "--inputs names a folder; give the safetensors file holding the input tensors",
            ));
        }
        Some(p) => tensor_io::read(p)?,
        None => HashMap::new(),
    };
    let out = out.ok_or_else(|| {
        Error::invalid(
            "--out",
            "missing; give the safetensors file to write the outputs to",
        )
    })?;
    if out.is_dir() {
        return Err(Error::io(
            out,
            "--out names a folder; give the file to write, e.g. DIR/outputs.safetensors",
        ));
    }
    let be = backend::open(kind)?;
    let outputs = op_runner::run(be.as_ref(), op, &params, &inputs)?;
    let meta = HashMap::from([
        ("op".to_string(), op.to_string()),
        ("backend".to_string(), be.kind().to_string()),
        ("params".to_string(), params.clone()),
    ]);
    tensor_io::write(out, &outputs, Some(meta))?;
    for (name, t) in &outputs {
        println!("{name}: {:?}", t.shape);
    }
    println!(
        "wrote {} on {} ({})",
        out.display(),
        be.kind(),
        be.device_name()
    );
    Ok(0)
}
