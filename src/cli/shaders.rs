//! `slimmable shaders`: every WGSL kernel compiled by one Vulkan driver,
//! with what its compiler reports (see `backend::wgsl::driver_stats`).

use crate::backend::wgsl::driver_stats::{self, DriverReport, KernelReport};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Statistics worth a column, by the names drivers give them (RADV:
/// registers, spills, scratch, local data share, waves; lavapipe and
/// others report what they have, and `--all` lists everything).
const COLUMNS: &[(&str, &str)] = &[
    ("VGPRs", "VGPRs"),
    ("SGPRs", "SGPRs"),
    ("Spilled VGPRs", "VGPR spill"),
    ("Spilled SGPRs", "SGPR spill"),
    ("PrivMem VGPRs", "privmem"),
    ("Scratch size", "scratch B"),
    ("LDS size", "LDS B"),
    ("Subgroups per SIMD", "waves/SIMD"),
    ("Instructions", "instrs"),
    ("Code size", "code B"),
    ("Latency", "latency"),
    ("Inverse Throughput", "inv tput"),
];

pub struct ShadersArgs<'a> {
    pub adapter: Option<&'a str>,
    pub entry: Option<&'a str>,
    pub shader_files: &'a [PathBuf],
    pub all: bool,
    pub json: bool,
    pub isa_dir: Option<&'a Path>,
}

pub fn run(args: ShadersArgs<'_>) -> Result<i32> {
    let shaders = if args.shader_files.is_empty() {
        driver_stats::crate_shaders()
    } else {
        args.shader_files
            .iter()
            .map(|path| {
                let source = std::fs::read_to_string(path).map_err(|e| Error::Io {
                    path: path.display().to_string(),
                    message: format!("{e} (--shader takes a WGSL file)"),
                })?;
                Ok((path.display().to_string(), source))
            })
            .collect::<Result<Vec<_>>>()?
    };
    // Before the compiles, which take a while: the folder the
    // representations go to.
    if let Some(dir) = args.isa_dir {
        crate::tensor_io::make_folder(dir, "--isa")?;
    }
    let report = driver_stats::compile(args.adapter, &shaders, args.entry, args.isa_dir.is_some())?;
    if report.kernels.is_empty() {
        return Err(match args.entry {
            Some(entry) => Error::Invalid {
                what: "--entry".into(),
                reason: format!(
                    "no compute entry point's name contains {entry:?}; without --entry every one is compiled"
                ),
            },
            None => Error::Invalid {
                what: "--shader".into(),
                reason:
                    "the shaders hold no compute entry point (`@compute` fn); give WGSL with one"
                        .into(),
            },
        });
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| Error::Invalid {
            what: "report".into(),
            reason: e.to_string(),
        })?;
        println!("{text}");
    } else {
        println!("adapter: {} ({})", report.adapter, report.driver);
        if !report.has_statistics {
            println!(
                "the driver does not report statistics (VK_KHR_pipeline_executable_properties); \
                 every kernel compiled"
            );
        }
        if args.all {
            print_all(&report);
        } else {
            print_table(&report);
        }
    }
    if let Some(dir) = args.isa_dir {
        write_representations(&report, dir)?;
    }
    if !args.json {
        println!("{} pipelines compiled", report.kernels.len());
    }
    Ok(0)
}

fn print_table(report: &DriverReport) {
    // The known columns this driver has; a driver that names its
    // statistics otherwise gets all of them but its hashes.
    let mut columns: Vec<(&str, &str)> = COLUMNS
        .iter()
        .copied()
        .filter(|(name, _)| report.kernels.iter().any(|k| k.stat(name).is_some()))
        .collect();
    if columns.is_empty() {
        for k in &report.kernels {
            for s in &k.stats {
                let name = s.name.as_str();
                if !name.to_lowercase().contains("hash") && !columns.iter().any(|c| c.0 == name) {
                    columns.push((name, name));
                }
            }
        }
    }
    let width = report
        .kernels
        .iter()
        .map(|k| k.entry.len())
        .max()
        .unwrap_or(0);
    let shader_width = report
        .kernels
        .iter()
        .map(|k| k.shader.len())
        .max()
        .unwrap_or(0);
    print!("{:<shader_width$} {:<width$}", "shader", "entry point");
    for (_, header) in &columns {
        print!(" {header:>10}");
    }
    println!();
    for k in &report.kernels {
        print!("{:<shader_width$} {:<width$}", k.shader, k.entry);
        for (name, _) in &columns {
            match k.stat(name) {
                Some(v) => print!(" {:>10}", v.to_string()),
                None => print!(" {:>10}", "-"),
            }
        }
        println!();
    }
}

fn print_all(report: &DriverReport) {
    for k in &report.kernels {
        println!("{} {}", k.shader, k.entry);
        for s in &k.stats {
            println!("  {}: {} ({})", s.name, s.value, s.description);
        }
    }
}

/// One file a kernel and representation: `DIR/<entry>.<name>.txt`, in the
/// folder `run` made before the compiles.
/// (Two `--shader` files with the same entry point name write one file.)
fn write_representations(report: &DriverReport, dir: &Path) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut written = 0;
    for KernelReport {
        entry,
        representations,
        ..
    } in &report.kernels
    {
        for (name, text) in representations {
            let slug: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let path = dir.join(format!("{entry}.{slug}.txt"));
            std::fs::write(&path, text).map_err(|e| io(&path, e))?;
            written += 1;
        }
    }
    println!("{written} representations written to {}", dir.display());
    Ok(())
}
