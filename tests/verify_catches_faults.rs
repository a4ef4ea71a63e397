//! The checker itself can fail: a backend that skips a write, writes outside
//! its view or computes a wrong value must be reported, not passed.

use slimmable::backend::cpu::{CpuBackend, view_indices};
use slimmable::backend::{Backend, BackendKind, Buffer};
use slimmable::params::{
    BnParams, EltwiseParams, FillParams, LinearParams, LossParams, PoolParams, SgdParams,
    SliceCopyParams, ViewParams,
};
use slimmable::verify;

#[derive(Clone, Copy)]
enum Fault {
    SkipLastWrite,
    WriteOutside,
    WrongValue,
}

/// A CPU backend that damages its output after each op; `.2` records
/// whether the damage was possible (an outside write needs an outside).
struct Faulty(CpuBackend, Fault, std::cell::Cell<bool>);

impl Faulty {
    fn damage(&self, dst: &Buffer, view: &ViewParams) {
        let mut host = self.0.download(dst).unwrap();
        let idx = view_indices(view);
        let last = *idx.last().unwrap();
        let inside: std::collections::HashSet<usize> = idx.iter().copied().collect();
        match self.1 {
            Fault::SkipLastWrite => host[last] = f32::NAN,
            // 1e-3 absolute plus 1%: beyond every case's tolerance.
            Fault::WrongValue => host[last] += 1e-3 + 1e-2 * host[last].abs(),
            Fault::WriteOutside => match (0..host.len()).find(|i| !inside.contains(i)) {
                Some(i) => host[i] = 0.5,
                None => self.2.set(false),
            },
        }
        self.0.write(dst, &host).unwrap();
    }
}

/// A 1-D range as a view, for outputs that are parameter slices.
fn range_view(offset: u32, len: u32) -> ViewParams {
    block_view(offset, 1, len, len)
}

/// A `rows × cols` block with row stride `ld`, as a view.
fn block_view(offset: u32, rows: u32, cols: u32, ld: u32) -> ViewParams {
    ViewParams {
        dims: [1, 1, rows, cols],
        strides: [0, 0, ld, 1],
        offset,
        _pad: [0; 3],
    }
}

impl Backend for Faulty {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpu
    }
    fn device_name(&self) -> String {
        "faulty".into()
    }
    fn alloc(&self, len: usize) -> slimmable::Result<Buffer> {
        self.0.alloc(len)
    }
    fn upload(&self, host: &[f32]) -> slimmable::Result<Buffer> {
        self.0.upload(host)
    }
    fn write(&self, buf: &Buffer, host: &[f32]) -> slimmable::Result<()> {
        self.0.write(buf, host)
    }
    fn download(&self, buf: &Buffer) -> slimmable::Result<Vec<f32>> {
        self.0.download(buf)
    }
    fn synchronize(&self) -> slimmable::Result<()> {
        Ok(())
    }
    fn slice_copy(&self, src: &Buffer, dst: &Buffer, p: &SliceCopyParams) -> slimmable::Result<()> {
        self.0.slice_copy(src, dst, p)?;
        self.damage(dst, &p.dst);
        Ok(())
    }
    fn fill(&self, dst: &Buffer, p: &FillParams) -> slimmable::Result<()> {
        self.0.fill(dst, p)?;
        self.damage(dst, &p.dst);
        Ok(())
    }
    fn bn_forward_train(
        &self,
        x: &Buffer,
        g: &Buffer,
        b: &Buffer,
        r: &Buffer,
        s: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> slimmable::Result<()> {
        self.0.bn_forward_train(x, g, b, r, s, y, p)?;
        self.damage(y, &p.y);
        Ok(())
    }
    fn bn_forward_eval(
        &self,
        x: &Buffer,
        g: &Buffer,
        b: &Buffer,
        r: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> slimmable::Result<()> {
        self.0.bn_forward_eval(x, g, b, r, y, p)?;
        self.damage(y, &p.y);
        Ok(())
    }
    fn bn_backward(
        &self,
        x: &Buffer,
        dy: &Buffer,
        g: &Buffer,
        b: &Buffer,
        s: &Buffer,
        dg: &Buffer,
        db: &Buffer,
        dx: &Buffer,
        p: &BnParams,
    ) -> slimmable::Result<()> {
        self.0.bn_backward(x, dy, g, b, s, dg, db, dx, p)?;
        self.damage(dx, &p.y);
        Ok(())
    }
    fn linear_forward(
        &self,
        x: &Buffer,
        w: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &LinearParams,
    ) -> slimmable::Result<()> {
        self.0.linear_forward(x, w, b, y, p)?;
        self.damage(y, &p.y);
        Ok(())
    }
    fn linear_backward_data(
        &self,
        dy: &Buffer,
        w: &Buffer,
        dx: &Buffer,
        p: &LinearParams,
    ) -> slimmable::Result<()> {
        self.0.linear_backward_data(dy, w, dx, p)?;
        self.damage(dx, &p.x);
        Ok(())
    }
    fn linear_backward_weight(
        &self,
        dy: &Buffer,
        x: &Buffer,
        dw: &Buffer,
        p: &LinearParams,
    ) -> slimmable::Result<()> {
        self.0.linear_backward_weight(dy, x, dw, p)?;
        self.damage(
            dw,
            &block_view(p.w_offset, p.y.dims[1], p.x.dims[1], p.w_ld),
        );
        Ok(())
    }
    fn linear_backward_bias(
        &self,
        dy: &Buffer,
        db: &Buffer,
        p: &LinearParams,
    ) -> slimmable::Result<()> {
        self.0.linear_backward_bias(dy, db, p)?;
        self.damage(db, &range_view(p.b_offset, p.y.dims[1]));
        Ok(())
    }
    fn eltwise(
        &self,
        a: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &EltwiseParams,
    ) -> slimmable::Result<()> {
        self.0.eltwise(a, b, y, p)?;
        self.damage(y, &p.y);
        Ok(())
    }
    fn avg_pool_forward(&self, x: &Buffer, y: &Buffer, p: &PoolParams) -> slimmable::Result<()> {
        self.0.avg_pool_forward(x, y, p)?;
        self.damage(y, &p.y);
        Ok(())
    }
    fn avg_pool_backward(&self, dy: &Buffer, dx: &Buffer, p: &PoolParams) -> slimmable::Result<()> {
        self.0.avg_pool_backward(dy, dx, p)?;
        self.damage(dx, &p.x);
        Ok(())
    }
    fn cross_entropy(
        &self,
        z: &Buffer,
        l: &Buffer,
        loss: &Buffer,
        d: &Buffer,
        p: &LossParams,
    ) -> slimmable::Result<()> {
        self.0.cross_entropy(z, l, loss, d, p)?;
        self.damage(d, &p.dlogits);
        Ok(())
    }
    fn kl_div(
        &self,
        s: &Buffer,
        t: &Buffer,
        loss: &Buffer,
        d: &Buffer,
        p: &LossParams,
    ) -> slimmable::Result<()> {
        self.0.kl_div(s, t, loss, d, p)?;
        self.damage(d, &p.dlogits);
        Ok(())
    }
    fn sgd_step(&self, w: &Buffer, g: &Buffer, m: &Buffer, p: &SgdParams) -> slimmable::Result<()> {
        self.0.sgd_step(w, g, m, p)?;
        self.damage(w, &range_view(p.offset, p.len));
        Ok(())
    }
}

#[test]
fn every_fault_fails_every_case() {
    for fault in [Fault::SkipLastWrite, Fault::WriteOutside, Fault::WrongValue] {
        for case in verify::cases() {
            let be = Faulty(CpuBackend::new(), fault, std::cell::Cell::new(true));
            let r = verify::run_case(&case, &be, 7);
            if !be.2.get() {
                continue; // the view covers its whole buffer: nothing outside
            }
            assert!(
                !r.passed(),
                "fault not caught in {} {}: {r:?}",
                r.op,
                r.case
            );
        }
    }
}
