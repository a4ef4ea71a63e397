//! The CPU reference backend: plain loops, written to be read. It is the
//! oracle every other backend is checked against, so clarity beats speed.

pub mod conv;
pub mod resize;

use super::{
    Backend, BackendKind, Buffer, ConvBuffers, ConvPass, Precision, Storage, check_write_len,
    wrong_storage,
};
use crate::error::Result;
use crate::params::{Conv2dParams, FillParams, ResizePackParams, SliceCopyParams, ViewParams};
use std::sync::RwLock;

/// The reference backend.
#[derive(Default)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> Self {
        CpuBackend
    }
}

fn host(buf: &Buffer) -> Result<&RwLock<Vec<f32>>> {
    match &buf.storage {
        Storage::Cpu(v) => Ok(v),
        _ => Err(wrong_storage("cpu")),
    }
}

/// Buffer indices of a view's elements in NCHW order.
pub fn view_indices(v: &ViewParams) -> Vec<usize> {
    let [n, c, h, w] = v.dims.map(|d| d as usize);
    let s = v.strides.map(|d| d as usize);
    let mut out = Vec::with_capacity(n * c * h * w);
    for i in 0..n {
        for j in 0..c {
            for k in 0..h {
                for l in 0..w {
                    out.push(v.offset as usize + i * s[0] + j * s[1] + k * s[2] + l * s[3]);
                }
            }
        }
    }
    out
}

impl Backend for CpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn device_name(&self) -> String {
        "CPU reference".into()
    }

    fn alloc(&self, len: usize) -> Result<Buffer> {
        // Unspecified contents: NaN, so that a missed write shows.
        self.upload(&vec![f32::NAN; len])
    }

    fn upload(&self, host: &[f32]) -> Result<Buffer> {
        Ok(Buffer {
            len: host.len(),
            storage: Storage::Cpu(RwLock::new(host.to_vec())),
        })
    }

    fn write(&self, buf: &Buffer, data: &[f32]) -> Result<()> {
        check_write_len(buf, data)?;
        host(buf)?
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .copy_from_slice(data);
        Ok(())
    }

    fn download(&self, buf: &Buffer) -> Result<Vec<f32>> {
        Ok(host(buf)?.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn slice_copy(&self, src: &Buffer, dst: &Buffer, p: &SliceCopyParams) -> Result<()> {
        // Gather first: src and dst may be the same buffer (disjoint views).
        let values: Vec<f32> = {
            let s = host(src)?.read().unwrap_or_else(|e| e.into_inner());
            view_indices(&p.src).into_iter().map(|i| s[i]).collect()
        };
        let mut d = host(dst)?.write().unwrap_or_else(|e| e.into_inner());
        for (i, v) in view_indices(&p.dst).into_iter().zip(values) {
            d[i] = v;
        }
        Ok(())
    }

    fn fill(&self, dst: &Buffer, p: &FillParams) -> Result<()> {
        let mut d = host(dst)?.write().unwrap_or_else(|e| e.into_inner());
        for i in view_indices(&p.dst) {
            d[i] = p.value;
        }
        Ok(())
    }

    fn conv2d(
        &self,
        pass: ConvPass,
        _precision: Precision,
        b: &ConvBuffers,
        p: &Conv2dParams,
    ) -> Result<()> {
        // Read the inputs first: the ops layer guarantees written buffers
        // are not also read, but a read-only buffer may appear twice.
        let read = |buf: &Buffer| -> Result<Vec<f32>> { self.download(buf) };
        match pass {
            ConvPass::Forward => {
                let (x, w) = (read(b.x)?, read(b.w)?);
                let bias = b.bias.map(read).transpose()?;
                let mut y = lock_write(b.y)?;
                conv::forward(p, &x, &w, bias.as_deref(), &mut y);
            }
            ConvPass::Dgrad => {
                let (dy, w) = (read(b.y)?, read(b.w)?);
                let mut dx = lock_write(b.x)?;
                conv::dgrad(p, &dy, &w, &mut dx);
            }
            ConvPass::Wgrad => {
                let (x, dy) = (read(b.x)?, read(b.y)?);
                let mut dw = lock_write(b.w)?;
                match b.bias {
                    Some(bb) => {
                        let mut db = lock_write(bb)?;
                        conv::wgrad(p, &x, &dy, &mut dw, Some(&mut db));
                    }
                    None => conv::wgrad(p, &x, &dy, &mut dw, None),
                }
            }
        }
        Ok(())
    }

    fn resize_pack(
        &self,
        src: &Buffer,
        desc: &Buffer,
        dst: &Buffer,
        p: &ResizePackParams,
    ) -> Result<()> {
        let s = host(src)?.read().unwrap_or_else(|e| e.into_inner());
        let d = host(desc)?.read().unwrap_or_else(|e| e.into_inner());
        let mut o = host(dst)?.write().unwrap_or_else(|e| e.into_inner());
        resize::resize_pack(&s, &d, &mut o, p);
        Ok(())
    }
}

fn lock_write(buf: &Buffer) -> Result<std::sync::RwLockWriteGuard<'_, Vec<f32>>> {
    Ok(host(buf)?.write().unwrap_or_else(|e| e.into_inner()))
}
