//! The checker itself can fail: a backend that skips a write, writes outside
//! its view or computes a wrong value must be reported, not passed.

use slimmable::backend::cpu::{CpuBackend, view_indices};
use slimmable::backend::{Backend, BackendKind, Buffer};
use slimmable::ops::resize::{IMAGE_WORDS, OUTPUT_WORDS};
use slimmable::params::{FillParams, ResizePackParams, SliceCopyParams, ViewParams};
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
            Fault::WrongValue => host[last] += 1e-3,
            Fault::WriteOutside => match (0..host.len()).find(|i| !inside.contains(i)) {
                Some(i) => host[i] = 0.5,
                None => self.2.set(false),
            },
        }
        self.0.write(dst, &host).unwrap();
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
    fn resize_pack(
        &self,
        src: &Buffer,
        desc: &Buffer,
        dst: &Buffer,
        p: &ResizePackParams,
    ) -> slimmable::Result<()> {
        self.0.resize_pack(src, desc, dst, p)?;
        // Damage the last output, whose view the descriptor table gives.
        let words: Vec<u32> = self.0.download(desc)?.iter().map(|w| w.to_bits()).collect();
        let o = IMAGE_WORDS * p.num_images as usize + OUTPUT_WORDS * (p.num_outputs as usize - 1);
        let [h, w, _, count, offset] = [0, 1, 2, 3, 4].map(|k| words[o + k]);
        let c = p.channels;
        let view = ViewParams {
            dims: [count, c, h, w],
            strides: [c * h * w, h * w, w, 1],
            offset,
            _pad: [0; 3],
        };
        self.damage(dst, &view);
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
