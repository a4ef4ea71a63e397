//! The CPU reference backend: plain loops, written to be read. It is the
//! oracle every other backend is checked against, so clarity beats speed.
//! The conv and batch-norm loops split their outputs between the cores
//! (`split`); each output's sum keeps one fixed order, so the results do
//! not depend on the thread count.

pub mod conv;
pub mod eltwise;
pub mod linear;
pub mod loss;
pub mod norm;
pub mod resize;
pub mod sgd;
mod split;

use super::{
    Backend, BackendKind, Buffer, ConvBuffers, ConvPass, Precision, Storage, check_write_len,
    wrong_storage,
};
use crate::error::{Error, Result};
use crate::params::{
    BnParams, Conv2dParams, EltwiseParams, FillParams, LinearParams, LossParams, PoolParams,
    ResizePackParams, SgdParams, SliceCopyParams, ViewParams, bn_flags, sgd_flags,
};
use std::sync::{RwLock, RwLockReadGuard};

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

/// Calls `f` with the buffer index of each of a view's elements, in NCHW
/// order.
pub fn for_each_index(v: &ViewParams, mut f: impl FnMut(usize)) {
    let [n, c, h, w] = v.dims.map(|d| d as usize);
    let s = v.strides.map(|d| d as usize);
    for i in 0..n {
        for j in 0..c {
            for k in 0..h {
                let row = v.offset as usize + i * s[0] + j * s[1] + k * s[2];
                for l in 0..w {
                    f(row + l * s[3]);
                }
            }
        }
    }
}

/// Calls `f(start, len)` for runs of a view's elements that lie next to
/// each other in the buffer, in NCHW order: a whole plane where its rows
/// are packed, else a row; single elements where the innermost stride is
/// not 1. (The reference's gathers and scatters copy runs, not indices.)
pub fn for_each_contiguous_run(v: &ViewParams, mut f: impl FnMut(usize, usize)) {
    let [n, c, h, w] = v.dims.map(|d| d as usize);
    let s = v.strides.map(|d| d as usize);
    if s[3] != 1 {
        for_each_index(v, |i| f(i, 1));
        return;
    }
    if w == 0 || h == 0 {
        return;
    }
    let plane_packed = s[2] == w || h == 1;
    for i in 0..n {
        for j in 0..c {
            let plane = v.offset as usize + i * s[0] + j * s[1];
            if plane_packed {
                f(plane, h * w);
            } else {
                for k in 0..h {
                    f(plane + k * s[2], w);
                }
            }
        }
    }
}

/// Buffer indices of a view's elements in NCHW order.
pub fn view_indices(v: &ViewParams) -> Vec<usize> {
    let mut out = Vec::with_capacity(v.numel() as usize);
    for_each_index(v, |i| out.push(i));
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

    fn on_gpu(&self) -> bool {
        false
    }

    fn alloc(&self, len: usize) -> Result<Buffer> {
        super::check_alloc_len(len)?;
        // Unspecified contents: NaN, so that a missed write shows. A failed
        // allocation is an error, not an abort.
        let mut host = Vec::new();
        host.try_reserve_exact(len).map_err(|_| {
            Error::invalid(
                "buffer",
                format!("cannot allocate {len} f32s in host memory; use smaller tensors"),
            )
        })?;
        host.resize(len, f32::NAN);
        Ok(Buffer {
            len,
            storage: Storage::Cpu(RwLock::new(host)),
        })
    }

    fn upload(&self, host: &[f32]) -> Result<Buffer> {
        Ok(Buffer {
            len: host.len(),
            storage: Storage::Cpu(RwLock::new(host.to_vec())),
        })
    }

    fn write(&self, buf: &Buffer, data: &[f32]) -> Result<()> {
        check_write_len(buf, data)?;
        lock_write(buf)?.copy_from_slice(data);
        Ok(())
    }

    fn download(&self, buf: &Buffer) -> Result<Vec<f32>> {
        Ok(lock_read(buf)?.clone())
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn slice_copy(&self, src: &Buffer, dst: &Buffer, p: &SliceCopyParams) -> Result<()> {
        // Gather first: src and dst may be the same buffer (disjoint views).
        let values: Vec<f32> = {
            let s = lock_read(src)?;
            view_indices(&p.src).into_iter().map(|i| s[i]).collect()
        };
        let mut d = lock_write(dst)?;
        for (i, v) in view_indices(&p.dst).into_iter().zip(values) {
            d[i] = v;
        }
        Ok(())
    }

    fn fill(&self, dst: &Buffer, p: &FillParams) -> Result<()> {
        let mut d = lock_write(dst)?;
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
        // The inputs are read in place under read locks; the ops layer
        // guarantees that a written buffer is not also read.
        match pass {
            ConvPass::Forward => {
                let reads = Reads::of(&[b.x, b.w].into_iter().chain(b.bias).collect::<Vec<_>>())?;
                let (x, w) = (reads.get(b.x)?, reads.get(b.w)?);
                let bias = b.bias.map(|bb| reads.get(bb)).transpose()?;
                let mut y = lock_write(b.y)?;
                conv::forward(p, x, w, bias, &mut y);
            }
            ConvPass::Dgrad => {
                let reads = Reads::of(&[b.y, b.w])?;
                let (dy, w) = (reads.get(b.y)?, reads.get(b.w)?);
                let mut dx = lock_write(b.x)?;
                conv::dgrad(p, dy, w, &mut dx);
            }
            ConvPass::Wgrad => {
                let reads = Reads::of(&[b.x, b.y])?;
                let (x, dy) = (reads.get(b.x)?, reads.get(b.y)?);
                let mut dw = lock_write(b.w)?;
                match b.bias {
                    Some(bb) => {
                        let mut db = lock_write(bb)?;
                        conv::wgrad(p, x, dy, &mut dw, Some(&mut db));
                    }
                    None => conv::wgrad(p, x, dy, &mut dw, None),
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
        let s = lock_read(src)?;
        let d = lock_read(desc)?;
        let mut o = lock_write(dst)?;
        resize::resize_pack(&s, &d, &mut o, p);
        Ok(())
    }

    fn bn_forward_train(
        &self,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        running: &Buffer,
        saved: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> Result<()> {
        let (n, c, hw) = nchw(&p.x);
        let xs = gather(x, &p.x)?;
        let g = range(gamma, p.gamma_offset, c)?;
        let b = range(beta, p.beta_offset, c)?;
        let f = norm::bn_train_forward(&xs, n, c, hw, &g, &b, p.eps as f64, p.act);
        scatter_view(y, &p.y, &f.y)?;
        let mut stats = f.mean.clone();
        stats.extend(&f.invstd);
        scatter(saved, 0..2 * c, &stats)?;
        if p.flags & bn_flags::UPDATE_RUNNING != 0 {
            let mut rm = range(running, p.mean_offset, c)?;
            let mut rv = range(running, p.var_offset, c)?;
            norm::update_running(&mut rm, &mut rv, &f.mean, &f.var, n * hw, p.factor as f64);
            scatter(running, p.mean_offset as usize.., &rm)?;
            scatter(running, p.var_offset as usize.., &rv)?;
        }
        Ok(())
    }

    fn bn_forward_eval(
        &self,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        running: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> Result<()> {
        let (n, c, hw) = nchw(&p.x);
        let xs = gather(x, &p.x)?;
        let g = range(gamma, p.gamma_offset, c)?;
        let b = range(beta, p.beta_offset, c)?;
        let mean = range(running, p.mean_offset, c)?;
        let invstd: Vec<f64> = range(running, p.var_offset, c)?
            .iter()
            .map(|v| 1.0 / (v + p.eps as f64).sqrt())
            .collect();
        let out = norm::normalize(&xs, n, c, hw, &g, &b, &mean, &invstd, p.act);
        scatter_view(y, &p.y, &out)
    }

    fn bn_backward(
        &self,
        x: &Buffer,
        dy: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        saved: &Buffer,
        dgamma: &Buffer,
        dbeta: &Buffer,
        dx: &Buffer,
        p: &BnParams,
    ) -> Result<()> {
        let (n, c, hw) = nchw(&p.x);
        let xs = gather(x, &p.x)?;
        let dys = gather(dy, &p.dy)?;
        let g = range(gamma, p.gamma_offset, c)?;
        let b = range(beta, p.beta_offset, c)?;
        let (mean, invstd) = (range(saved, 0, c)?, range(saved, c as u32, c)?);
        let r = norm::bn_backward(&xs, &dys, n, c, hw, &g, &b, &mean, &invstd, p.act);
        scatter_view(dx, &p.y, &r.dx)?;
        accumulate(dgamma, p.gamma_offset, &r.dgamma)?;
        accumulate(dbeta, p.beta_offset, &r.dbeta)
    }

    fn linear_forward(
        &self,
        x: &Buffer,
        w: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (n, i_f, o_f) = (
            p.x.dims[0] as usize,
            p.x.dims[1] as usize,
            p.y.dims[1] as usize,
        );
        let xs = gather(x, &p.x)?;
        let ws = weight_block(&lock_read(w)?, p, o_f, i_f);
        let bs = range(b, p.b_offset, o_f)?;
        let out =
            linear::linear_forward(&xs, &ws, (p.has_bias != 0).then_some(&bs[..]), n, i_f, o_f);
        scatter_view(y, &p.y, &out)
    }

    fn linear_backward_data(
        &self,
        dy: &Buffer,
        w: &Buffer,
        dx: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (n, i_f, o_f) = (
            p.x.dims[0] as usize,
            p.x.dims[1] as usize,
            p.y.dims[1] as usize,
        );
        let dys = gather(dy, &p.y)?;
        let ws = weight_block(&lock_read(w)?, p, o_f, i_f);
        let (d, _, _) = linear::linear_backward(&vec![0.0; n * i_f], &ws, &dys, n, i_f, o_f);
        scatter_view(dx, &p.x, &d)
    }

    fn linear_backward_weight(
        &self,
        dy: &Buffer,
        x: &Buffer,
        dw: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let (n, i_f, o_f) = (
            p.x.dims[0] as usize,
            p.x.dims[1] as usize,
            p.y.dims[1] as usize,
        );
        let dys = gather(dy, &p.y)?;
        let xs = gather(x, &p.x)?;
        let (_, g, _) = linear::linear_backward(&xs, &vec![0.0; o_f * i_f], &dys, n, i_f, o_f);
        for o in 0..o_f {
            accumulate(
                dw,
                p.w_offset + (o as u32) * p.w_ld,
                &g[o * i_f..(o + 1) * i_f],
            )?;
        }
        Ok(())
    }

    fn linear_backward_bias(&self, dy: &Buffer, db: &Buffer, p: &LinearParams) -> Result<()> {
        let (n, o_f) = (p.y.dims[0] as usize, p.y.dims[1] as usize);
        let dys = gather(dy, &p.y)?;
        let (_, _, g) = linear::linear_backward(&[], &[], &dys, n, 0, o_f);
        accumulate(db, p.b_offset, &g)
    }

    fn eltwise(&self, a: &Buffer, b: &Buffer, y: &Buffer, p: &EltwiseParams) -> Result<()> {
        let av = gather(a, &p.a)?;
        let bv = gather(b, &p.b)?;
        let yv = gather(y, &p.y)?;
        let out: Vec<f64> = (0..av.len())
            .map(|i| eltwise::eltwise(p.op, av[i], bv[i], yv[i]))
            .collect();
        scatter_view(y, &p.y, &out)
    }

    fn avg_pool_forward(&self, x: &Buffer, y: &Buffer, p: &PoolParams) -> Result<()> {
        let (n, c, hw) = nchw(&p.x);
        let out = eltwise::avg_pool_forward(&gather(x, &p.x)?, n * c, hw);
        scatter_view(y, &p.y, &out)
    }

    fn avg_pool_backward(&self, dy: &Buffer, dx: &Buffer, p: &PoolParams) -> Result<()> {
        let (_, _, hw) = nchw(&p.x);
        let out = eltwise::avg_pool_backward(&gather(dy, &p.y)?, hw);
        scatter_view(dx, &p.x, &out)
    }

    fn cross_entropy(
        &self,
        logits: &Buffer,
        labels: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        let (n, k) = (p.logits.dims[0] as usize, p.logits.dims[1] as usize);
        let z = gather(logits, &p.logits)?;
        let l = range(labels, p.labels_offset, n)?;
        let (v, d) = loss::cross_entropy(&z, &l, n, k, p.smoothing as f64);
        scatter_view(dlogits, &p.dlogits, &d)?;
        scatter(loss, [p.loss_offset as usize], &[v])
    }

    fn kl_div(
        &self,
        student: &Buffer,
        teacher: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        let (n, k) = (p.logits.dims[0] as usize, p.logits.dims[1] as usize);
        let s = gather(student, &p.logits)?;
        let t = gather(teacher, &p.teacher)?;
        let (v, d) = loss::kl_div(&s, &t, n, k, p.temperature as f64);
        scatter_view(dlogits, &p.dlogits, &d)?;
        scatter(loss, [p.loss_offset as usize], &[v])
    }

    fn sgd_step(
        &self,
        param: &Buffer,
        grad: &Buffer,
        momentum: &Buffer,
        p: &SgdParams,
    ) -> Result<()> {
        let len = p.len as usize;
        let (w, g, m) = (
            range(param, p.offset, len)?,
            range(grad, p.offset, len)?,
            range(momentum, p.offset, len)?,
        );
        let (mut new_w, mut new_m) = (Vec::with_capacity(len), Vec::with_capacity(len));
        for i in 0..len {
            let (a, b) = sgd::sgd_element(
                w[i],
                g[i],
                m[i],
                p.lr as f64,
                p.momentum as f64,
                p.weight_decay as f64,
                p.flags & sgd_flags::NESTEROV != 0,
                p.flags & sgd_flags::FIRST_STEP != 0,
            );
            new_w.push(a);
            new_m.push(b);
        }
        let at = p.offset as usize..;
        scatter(param, at.clone(), &new_w)?;
        if p.momentum != 0.0 {
            scatter(momentum, at.clone(), &new_m)?;
        }
        if p.flags & sgd_flags::ZERO_GRAD != 0 {
            scatter(grad, at, &vec![0.0; len])?;
        }
        Ok(())
    }
}

/// Read access to an operation's input buffers without copying them: each
/// distinct buffer is locked once, since one buffer may be passed as two
/// inputs (a thread must not take the same read lock twice).
struct Reads<'a> {
    locks: Vec<HeldRead<'a>>,
}

/// A buffer's lock and the read guard taken on it.
type HeldRead<'a> = (&'a RwLock<Vec<f32>>, RwLockReadGuard<'a, Vec<f32>>);

impl<'a> Reads<'a> {
    fn of(bufs: &[&'a Buffer]) -> Result<Self> {
        let mut locks: Vec<HeldRead> = Vec::new();
        for &buf in bufs {
            let lock = host(buf)?;
            if !locks.iter().any(|(held, _)| std::ptr::eq(*held, lock)) {
                locks.push((lock, lock.read().unwrap_or_else(|e| e.into_inner())));
            }
        }
        Ok(Reads { locks })
    }

    /// The contents of `buf`, one of the buffers this was made of.
    fn get(&self, buf: &Buffer) -> Result<&[f32]> {
        let lock = host(buf)?;
        self.locks
            .iter()
            .find(|(held, _)| std::ptr::eq(*held, lock))
            .map(|(_, guard)| guard.as_slice())
            .ok_or_else(|| Error::invalid("buffer", "was not locked for reading".to_string()))
    }
}

fn lock_write(buf: &Buffer) -> Result<std::sync::RwLockWriteGuard<'_, Vec<f32>>> {
    Ok(host(buf)?.write().unwrap_or_else(|e| e.into_inner()))
}

/// A buffer's contents under its read lock. The reference copies what it
/// reads (gather, range, weight_block) before it takes a write lock.
fn lock_read(buf: &Buffer) -> Result<RwLockReadGuard<'_, Vec<f32>>> {
    Ok(host(buf)?.read().unwrap_or_else(|e| e.into_inner()))
}

/// A view's elements in NCHW order, widened to f64 (copied under the read
/// lock, which is released before anything is written).
fn gather(buf: &Buffer, v: &ViewParams) -> Result<Vec<f64>> {
    let data = lock_read(buf)?;
    let mut out = Vec::with_capacity(v.numel() as usize);
    for_each_contiguous_run(v, |start, len| {
        out.extend(data[start..start + len].iter().map(|&x| x as f64));
    });
    Ok(out)
}

/// Elements `offset..offset + len` widened to f64.
fn range(buf: &Buffer, offset: u32, len: usize) -> Result<Vec<f64>> {
    let data = lock_read(buf)?;
    Ok(data[offset as usize..offset as usize + len]
        .iter()
        .map(|&v| v as f64)
        .collect())
}

/// Writes `values` (rounded to f32) at `indices`.
fn scatter(buf: &Buffer, indices: impl IntoIterator<Item = usize>, values: &[f64]) -> Result<()> {
    let mut d = lock_write(buf)?;
    for (i, v) in indices.into_iter().zip(values) {
        d[i] = *v as f32;
    }
    Ok(())
}

/// Writes `values` (rounded to f32) into a view's elements, in NCHW order.
fn scatter_view(buf: &Buffer, v: &ViewParams, values: &[f64]) -> Result<()> {
    let mut d = lock_write(buf)?;
    let mut values = values;
    for_each_contiguous_run(v, |start, len| {
        let (run, rest) = values.split_at(len.min(values.len()));
        for (dst, &x) in d[start..start + run.len()].iter_mut().zip(run) {
            *dst = x as f32;
        }
        values = rest;
    });
    Ok(())
}

/// Adds `values` to the f32 elements at `offset..`, in f64.
fn accumulate(buf: &Buffer, offset: u32, values: &[f64]) -> Result<()> {
    let mut d = lock_write(buf)?;
    for (k, v) in values.iter().enumerate() {
        let i = offset as usize + k;
        d[i] = (d[i] as f64 + v) as f32;
    }
    Ok(())
}

/// `(N, c, H·W)` of a BN view.
fn nchw(v: &ViewParams) -> (usize, usize, usize) {
    let d = v.dims.map(|x| x as usize);
    (d[0], d[1], d[2] * d[3])
}

/// The active `[out][in]` block of a full-size weight, dense, in f64.
fn weight_block(w: &[f32], p: &LinearParams, o_f: usize, i_f: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(o_f * i_f);
    for o in 0..o_f {
        let row = p.w_offset as usize + o * p.w_ld as usize;
        out.extend(w[row..row + i_f].iter().map(|&v| v as f64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_runs_cover_a_views_indices_in_order() {
        // Packed, a channel slice, padded rows, one row a plane, a strided
        // innermost dimension, an empty view.
        let views = [
            ([2, 3, 4, 5], [60, 20, 5, 1]),
            ([2, 3, 4, 5], [100, 20, 5, 1]),
            ([2, 3, 4, 5], [120, 40, 8, 1]),
            ([2, 3, 1, 5], [45, 15, 9, 1]),
            ([2, 3, 4, 5], [120, 40, 10, 2]),
            ([2, 0, 4, 5], [60, 20, 5, 1]),
        ];
        for (dims, strides) in views {
            let v = ViewParams {
                dims,
                strides,
                offset: 7,
                _pad: [0; 3],
            };
            let mut from_runs = Vec::new();
            for_each_contiguous_run(&v, |start, len| from_runs.extend(start..start + len));
            assert_eq!(
                from_runs,
                view_indices(&v),
                "dims {dims:?} strides {strides:?}"
            );
        }
    }

    #[test]
    fn a_buffer_passed_twice_is_read_under_one_lock() {
        let backend = CpuBackend::new();
        let a = backend.upload(&[1.0, 2.0, 3.0]).unwrap();
        let b = backend.upload(&[4.0, 5.0]).unwrap();
        // A second read lock on `a` from this thread could deadlock behind
        // a waiting writer; one lock serves both.
        let reads = Reads::of(&[&a, &b, &a]).unwrap();
        assert_eq!(reads.locks.len(), 2);
        assert_eq!(reads.get(&a).unwrap(), &[1.0, 2.0, 3.0]);
        assert_eq!(reads.get(&b).unwrap(), &[4.0, 5.0]);
        let other = backend.alloc(1).unwrap();
        assert!(reads.get(&other).is_err(), "a buffer it was not made of");
    }
}
