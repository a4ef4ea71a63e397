//! A backend that times every operation of another one: each call is
//! preceded and followed by a synchronize, so the time is the operation's
//! launch plus its device time, one at a time. That serializes the device
//! (totals are an upper bound on a real iteration), but it says which
//! operations a training step spends its time in and how many launches it
//! makes (`slimmable train --profile-ops N`).

use super::{Backend, BackendKind, Buffer, ConvBuffers, ConvPass, Precision, SgdSlot};
use crate::error::Result;
use crate::params::{
    BnParams, Conv2dParams, EltwiseParams, FillParams, LinearParams, LossParams, PoolParams,
    ResizePackParams, SgdManyParams, SgdParams, SliceCopyParams,
};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Instant;

/// Calls and seconds of one operation kind, and the bytes its calls must
/// move at least (0 where not counted: only batch norm is).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpTime {
    pub calls: u64,
    pub seconds: f64,
    pub bytes: f64,
}

pub struct ProfiledBackend<'a> {
    inner: &'a dyn Backend,
    times: RefCell<BTreeMap<String, OpTime>>,
    /// Closures run through `time_ms` so far.
    runs: Cell<u64>,
}

impl<'a> ProfiledBackend<'a> {
    pub fn new(inner: &'a dyn Backend) -> Self {
        ProfiledBackend {
            inner,
            times: RefCell::new(BTreeMap::new()),
            runs: Cell::new(0),
        }
    }

    /// Forgets what was timed so far (after warm-up iterations).
    pub fn reset(&self) {
        self.times.borrow_mut().clear();
    }

    /// How many times `time_ms` ran its closure (timed or not).
    pub fn timed_runs(&self) -> u64 {
        self.runs.get()
    }

    /// What was timed, by operation kind.
    pub fn times(&self) -> BTreeMap<String, OpTime> {
        self.times.borrow().clone()
    }

    /// The table: kind, calls, total ms, mean µs, share, and for the kinds
    /// whose bytes are counted their effective GB/s (minimal bytes over the
    /// synchronized time, so a lower bound); heaviest first.
    pub fn report(&self, iterations: u64) -> String {
        let times = self.times();
        let total: f64 = times.values().map(|t| t.seconds).sum();
        let calls: u64 = times.values().map(|t| t.calls).sum();
        let mut rows: Vec<_> = times.into_iter().collect();
        rows.sort_by(|a, b| b.1.seconds.total_cmp(&a.1.seconds));
        let it = iterations.max(1) as f64;
        let mut s = format!(
            "{:<34} {:>10} {:>12} {:>10} {:>7} {:>8}\n",
            "operation", "calls/iter", "ms/iter", "mean µs", "share", "GB/s"
        );
        for (name, t) in rows {
            let gbps = if t.bytes > 0.0 {
                format!("{:.0}", t.bytes / t.seconds.max(1e-12) / 1e9)
            } else {
                "-".into()
            };
            s += &format!(
                "{:<34} {:>10.1} {:>12.3} {:>10.1} {:>6.1}% {:>8}\n",
                name,
                t.calls as f64 / it,
                1e3 * t.seconds / it,
                1e6 * t.seconds / t.calls.max(1) as f64,
                100.0 * t.seconds / total.max(1e-12),
                gbps
            );
        }
        s += &format!(
            "{:<34} {:>10.1} {:>12.3}\n",
            "total",
            calls as f64 / it,
            1e3 * total / it
        );
        s
    }

    fn timed(&self, name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
        self.timed_bytes(name, 0.0, f)
    }

    fn timed_bytes(&self, name: &str, bytes: f64, f: impl FnOnce() -> Result<()>) -> Result<()> {
        self.inner.synchronize()?;
        let t0 = Instant::now();
        f()?;
        self.inner.synchronize()?;
        let dt = t0.elapsed().as_secs_f64();
        let mut times = self.times.borrow_mut();
        let e = times.entry(name.to_string()).or_default();
        e.calls += 1;
        e.seconds += dt;
        e.bytes += bytes;
        Ok(())
    }
}

/// A batch-norm row: the pass and the size of the per-channel reduction
/// N·H·W (small ones are latency-bound, so they get rows of their own), and
/// the minimal bytes of issue 4 (three tensors each way: the forward reads
/// x twice and writes y; the backward reads x and dy, writes dx).
fn bn_row(pass: &str, p: &BnParams) -> (String, f64) {
    let bucket = match p.count {
        0..=4096 => "NHW<=4k",
        4097..=16384 => "NHW<=16k",
        16385..=65536 => "NHW<=64k",
        _ => "NHW>64k",
    };
    let elements = p.count as f64 * p.x.dims[1] as f64;
    (format!("bn {pass} {bucket}"), 3.0 * 4.0 * elements)
}

/// The conv kind a profile row groups by: pass, depthwise or not, kernel size.
fn conv_kind(pass: ConvPass, p: &Conv2dParams) -> String {
    let pass = match pass {
        ConvPass::Forward => "fwd",
        ConvPass::Dgrad => "dgrad",
        ConvPass::Wgrad => "wgrad",
    };
    let (k, ic) = (p.w.dims[2], p.x.dims[1]);
    let kind = if p.groups > 1 && p.groups == ic {
        "dw"
    } else {
        "dense"
    };
    format!("conv {kind} {k}x{k} {pass}")
}

impl Backend for ProfiledBackend<'_> {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    fn device_name(&self) -> String {
        self.inner.device_name()
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self.inner.as_any()
    }
    fn on_gpu(&self) -> bool {
        self.inner.on_gpu()
    }
    fn alloc(&self, len: usize) -> Result<Buffer> {
        self.inner.alloc(len)
    }
    fn upload(&self, host: &[f32]) -> Result<Buffer> {
        self.inner.upload(host)
    }
    fn upload_u8(&self, bytes: &[u8]) -> Result<Buffer> {
        self.inner.upload_u8(bytes)
    }
    fn upload_u32(&self, words: &[u32]) -> Result<Buffer> {
        self.inner.upload_u32(words)
    }
    fn write(&self, buf: &Buffer, host: &[f32]) -> Result<()> {
        self.timed("write (host to device)", || self.inner.write(buf, host))
    }
    fn download(&self, buf: &Buffer) -> Result<Vec<f32>> {
        self.inner.download(buf)
    }
    fn synchronize(&self) -> Result<()> {
        self.inner.synchronize()
    }
    fn time_ms(&self, iters: usize, run: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
        // Counted: backends run the closure a different number of times
        // around the timed ones (warm-up, queueing).
        self.inner.time_ms(iters, &mut || {
            self.runs.set(self.runs.get() + 1);
            run()
        })
    }
    fn slice_copy(&self, src: &Buffer, dst: &Buffer, p: &SliceCopyParams) -> Result<()> {
        self.timed("slice copy", || self.inner.slice_copy(src, dst, p))
    }
    fn fill(&self, dst: &Buffer, p: &FillParams) -> Result<()> {
        self.timed("fill", || self.inner.fill(dst, p))
    }
    fn conv2d(
        &self,
        pass: ConvPass,
        precision: Precision,
        bufs: &ConvBuffers,
        p: &Conv2dParams,
    ) -> Result<()> {
        self.timed(&conv_kind(pass, p), || {
            self.inner.conv2d(pass, precision, bufs, p)
        })
    }
    fn resize_pack(
        &self,
        src: &Buffer,
        desc: &Buffer,
        dst: &Buffer,
        p: &ResizePackParams,
    ) -> Result<()> {
        self.timed("resize pack", || self.inner.resize_pack(src, desc, dst, p))
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
        let (row, bytes) = bn_row("forward (train)", p);
        self.timed_bytes(&row, bytes, || {
            self.inner
                .bn_forward_train(x, gamma, beta, running, saved, y, p)
        })
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
        self.timed("bn forward (eval)", || {
            self.inner.bn_forward_eval(x, gamma, beta, running, y, p)
        })
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
        let (row, bytes) = bn_row("backward", p);
        self.timed_bytes(&row, bytes, || {
            self.inner
                .bn_backward(x, dy, gamma, beta, saved, dgamma, dbeta, dx, p)
        })
    }
    fn linear_forward(
        &self,
        x: &Buffer,
        w: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        self.timed("linear forward", || {
            self.inner.linear_forward(x, w, b, y, p)
        })
    }
    fn linear_backward_data(
        &self,
        dy: &Buffer,
        w: &Buffer,
        dx: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        self.timed("linear dx", || {
            self.inner.linear_backward_data(dy, w, dx, p)
        })
    }
    fn linear_backward_weight(
        &self,
        dy: &Buffer,
        x: &Buffer,
        dw: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        self.timed("linear dW", || {
            self.inner.linear_backward_weight(dy, x, dw, p)
        })
    }
    fn linear_backward_bias(&self, dy: &Buffer, db: &Buffer, p: &LinearParams) -> Result<()> {
        self.timed("linear db", || self.inner.linear_backward_bias(dy, db, p))
    }
    fn eltwise(&self, a: &Buffer, b: &Buffer, y: &Buffer, p: &EltwiseParams) -> Result<()> {
        self.timed("elementwise", || self.inner.eltwise(a, b, y, p))
    }
    fn avg_pool_forward(&self, x: &Buffer, y: &Buffer, p: &PoolParams) -> Result<()> {
        self.timed("avg pool forward", || self.inner.avg_pool_forward(x, y, p))
    }
    fn avg_pool_backward(&self, dy: &Buffer, dx: &Buffer, p: &PoolParams) -> Result<()> {
        self.timed("avg pool backward", || {
            self.inner.avg_pool_backward(dy, dx, p)
        })
    }
    fn cross_entropy(
        &self,
        logits: &Buffer,
        labels: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        self.timed("cross entropy", || {
            self.inner.cross_entropy(logits, labels, loss, dlogits, p)
        })
    }
    fn kl_div(
        &self,
        student: &Buffer,
        teacher: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        self.timed("kl div", || {
            self.inner.kl_div(student, teacher, loss, dlogits, p)
        })
    }
    fn sgd_step(
        &self,
        param: &Buffer,
        grad: &Buffer,
        momentum: &Buffer,
        p: &SgdParams,
    ) -> Result<()> {
        self.timed("sgd step", || self.inner.sgd_step(param, grad, momentum, p))
    }
    fn sgd_step_many(&self, slots: &[SgdSlot<'_>], p: &SgdManyParams) -> Result<()> {
        self.timed("sgd step (all parameters)", || {
            self.inner.sgd_step_many(slots, p)
        })
    }
}
