//! The evaluation grid and query table as a terminal table, JSON, CSV and
//! an accuracy-vs-MACs plot (SVG, and PNG drawn by a tiny rasterizer) with
//! the Pareto front.

use super::evaluate::ConfigResult;
use crate::error::{Error, Result};
use crate::tensor_io::write_atomic;
use std::fmt::Write as _;
use std::path::Path;

/// The grid (rows: widths, columns: resolutions) and the query table.
pub fn table(results: &[ConfigResult]) -> String {
    let mut widths: Vec<f64> = results.iter().map(|r| r.width).collect();
    widths.dedup();
    let mut res: Vec<usize> = results.iter().map(|r| r.resolution).collect();
    res.sort_unstable_by(|a, b| b.cmp(a));
    res.dedup();
    let mut out = String::from("top-1 accuracy (%) per width × resolution, MACs in parentheses\n");
    let _ = write!(out, "{:>8}", "width");
    for r in &res {
        let _ = write!(out, " {:>18}", format!("{r} px"));
    }
    out.push('\n');
    for &w in widths.iter().rev() {
        let _ = write!(out, "{:>8}", format!("{w:.2}×"));
        for &r in &res {
            match results.iter().find(|x| x.width == w && x.resolution == r) {
                Some(x) => {
                    let _ = write!(
                        out,
                        " {:>18}",
                        format!(
                            "{:.2} ({:.2}M){}",
                            x.top1,
                            x.macs as f64 / 1e6,
                            if x.pareto { "*" } else { "" }
                        )
                    );
                }
                None => {
                    let _ = write!(out, " {:>18}", "-");
                }
            }
        }
        out.push('\n');
    }
    out.push_str("* on the Pareto front\n\nquery table: best config per MACs budget\n");
    let _ = writeln!(
        out,
        "{:>14} {:>8} {:>6} {:>8}",
        "MACs ≤", "width", "px", "top-1"
    );
    let mut front: Vec<&ConfigResult> = results.iter().filter(|r| r.pareto).collect();
    front.sort_by_key(|r| r.macs);
    for r in front {
        let _ = writeln!(
            out,
            "{:>14} {:>8.2} {:>6} {:>8.2}",
            r.macs, r.width, r.resolution, r.top1
        );
    }
    out
}

pub fn csv(results: &[ConfigResult]) -> String {
    let mut out = String::from("width,resolution,macs,params,top1,pareto\n");
    for r in results {
        let _ = writeln!(
            out,
            "{},{},{},{},{:.4},{}",
            r.width, r.resolution, r.macs, r.params, r.top1, r.pareto
        );
    }
    out
}

/// Plot coordinates: MACs on x (millions), accuracy on y.
struct Frame {
    w: f64,
    h: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    margin: f64,
}

impl Frame {
    fn new(results: &[ConfigResult], w: f64, h: f64) -> Self {
        let xs = results.iter().map(|r| r.macs as f64 / 1e6);
        let ys = results.iter().map(|r| r.top1);
        let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        let (y0, y1) = ys.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        let pad = |a: f64, b: f64| ((b - a) * 0.08).max(1e-3);
        Frame {
            w,
            h,
            // MACs are positive: no axis below zero.
            x0: (x0 - pad(x0, x1)).max(0.0),
            x1: x1 + pad(x0, x1),
            y0: y0 - pad(y0, y1),
            y1: y1 + pad(y0, y1),
            margin: 60.0,
        }
    }
    /// Five evenly spaced ticks per axis: values and pixel positions.
    fn ticks(&self) -> impl Iterator<Item = Tick> + '_ {
        let m = self.margin;
        (0..=4).map(move |i| {
            let t = i as f64 / 4.0;
            Tick {
                xv: self.x0 + t * (self.x1 - self.x0),
                yv: self.y0 + t * (self.y1 - self.y0),
                x: m + t * (self.w - 2.0 * m),
                y: self.h - m - t * (self.h - 2.0 * m),
            }
        })
    }

    fn px(&self, macs: u64, top1: f64) -> (f64, f64) {
        let m = self.margin;
        let x = m + (macs as f64 / 1e6 - self.x0) / (self.x1 - self.x0) * (self.w - 2.0 * m);
        let y = self.h - m - (top1 - self.y0) / (self.y1 - self.y0) * (self.h - 2.0 * m);
        (x, y)
    }
}

/// An axis tick: the value on x (MACs, millions) and y (top-1 %), and where
/// they are drawn.
struct Tick {
    xv: f64,
    yv: f64,
    x: f64,
    y: f64,
}

const X_TITLE: &str = "MACs (millions)";
const Y_TITLE: &str = "top-1 accuracy (%)";

fn front(results: &[ConfigResult]) -> Vec<&ConfigResult> {
    let mut f: Vec<&ConfigResult> = results.iter().filter(|r| r.pareto).collect();
    f.sort_by_key(|r| r.macs);
    f
}

pub fn svg(results: &[ConfigResult], title: &str) -> String {
    let fr = Frame::new(results, 720.0, 480.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"480\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"720\" height=\"480\" fill=\"white\"/>\n<text x=\"360\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{title}</text>\n"
    );
    let m = fr.margin;
    let _ = writeln!(
        s,
        "<line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>",
        fr.h - m,
        fr.w - m,
        fr.h - m,
        fr.h - m
    );
    for Tick { xv, yv, x, y } in fr.ticks() {
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{xv:.2}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{yv:.1}</text>",
            fr.h - m + 18.0,
            m - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"360\" y=\"{}\" text-anchor=\"middle\">{X_TITLE}</text><text x=\"16\" y=\"240\" transform=\"rotate(-90 16 240)\" text-anchor=\"middle\">{Y_TITLE}</text>",
        fr.h - 16.0
    );
    let pts: Vec<String> = front(results)
        .iter()
        .map(|r| {
            let (x, y) = fr.px(r.macs, r.top1);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = writeln!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>",
        pts.join(" ")
    );
    for r in results {
        let (x, y) = fr.px(r.macs, r.top1);
        let fill = if r.pareto { "#d62728" } else { "#1f77b4" };
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{fill}\"><title>{:.2}× {} px: {:.2}% at {} MACs</title></circle>",
            r.width, r.resolution, r.top1, r.macs
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The same plot as a PNG: points, front, axes, tick values and axis titles
/// (the SVG's title and hover labels are left out).
pub fn png(results: &[ConfigResult]) -> Result<Vec<u8>> {
    let (w, h) = (720usize, 480usize);
    let fr = Frame::new(results, w as f64, h as f64);
    let mut img = vec![255u8; w * h * 3];
    let mut put = |x: i64, y: i64, c: [u8; 3]| {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            let o = (y as usize * w + x as usize) * 3;
            img[o..o + 3].copy_from_slice(&c);
        }
    };
    let line = |(x0, y0): (f64, f64),
                (x1, y1): (f64, f64),
                c: [u8; 3],
                put: &mut dyn FnMut(i64, i64, [u8; 3])| {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            for d in 0..2 {
                put(x as i64, y as i64 + d, c);
            }
        }
    };
    let m = fr.margin;
    line((m, fr.h - m), (fr.w - m, fr.h - m), [0, 0, 0], &mut put);
    line((m, m), (m, fr.h - m), [0, 0, 0], &mut put);
    // Tick values and axis titles, as in the SVG (text 2 px a font pixel).
    let ink = [60, 60, 60];
    let mut text = |s: &str, x: f64, y: f64, anchor: f64| {
        let width = s.chars().count() as f64 * super::glyphs::advance(2) as f64;
        let x0 = (x - anchor * width) as i64;
        super::glyphs::draw(s, x0, y as i64, 2, &mut |px, py| put(px, py, ink));
    };
    for Tick { xv, yv, x, y } in fr.ticks() {
        text(&format!("{xv:.2}"), x, fr.h - m + 8.0, 0.5);
        text(&format!("{yv:.1}"), m - 6.0, y - 7.0, 1.0);
    }
    text(X_TITLE, fr.w / 2.0, fr.h - 22.0, 0.5);
    text(Y_TITLE, m, 14.0, 0.0);
    let f = front(results);
    for pair in f.windows(2) {
        line(
            fr.px(pair[0].macs, pair[0].top1),
            fr.px(pair[1].macs, pair[1].top1),
            [214, 39, 40],
            &mut put,
        );
    }
    for r in results {
        let (cx, cy) = fr.px(r.macs, r.top1);
        let c = if r.pareto {
            [214, 39, 40]
        } else {
            [31, 119, 180]
        };
        for dy in -4i64..=4 {
            for dx in -4i64..=4 {
                if dx * dx + dy * dy <= 16 {
                    put(cx as i64 + dx, cy as i64 + dy, c);
                }
            }
        }
    }
    encode_png(w, h, &img)
}

/// An 8-bit RGB PNG: signature, IHDR, one zlib IDAT, IEND.
fn encode_png(w: usize, h: usize, rgb: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut raw = Vec::with_capacity((w * 3 + 1) * h);
    for row in rgb.chunks(w * 3) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw)
        .map_err(|e| Error::invalid("png", e.to_string()))?;
    let idat = z
        .finish()
        .map_err(|e| Error::invalid("png", e.to_string()))?;
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend(crc.sum().to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend((w as u32).to_be_bytes());
    ihdr.extend((h as u32).to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &idat);
    chunk(b"IEND", &[]);
    Ok(out)
}

/// The files [`write_all`] writes into a run folder.
pub const RESULT_FILES: [&str; 5] = [
    "results.json",
    "results.csv",
    "accuracy_vs_macs.svg",
    "accuracy_vs_macs.png",
    "table.txt",
];

/// Writes [`RESULT_FILES`] into `dir`.
pub fn write_all(
    dir: &Path,
    results: &[ConfigResult],
    title: &str,
    extra: serde_json::Value,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::json!({ "run": extra, "configs": results });
    let [json_name, csv_name, svg_name, png_name, table_name] = RESULT_FILES;
    write_atomic(
        &dir.join(json_name),
        serde_json::to_string_pretty(&json)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    write_atomic(&dir.join(csv_name), csv(results).as_bytes())?;
    write_atomic(&dir.join(svg_name), svg(results, title).as_bytes())?;
    write_atomic(&dir.join(png_name), &png(results)?)?;
    write_atomic(&dir.join(table_name), table(results).as_bytes())
}
