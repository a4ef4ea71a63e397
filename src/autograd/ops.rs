//! The recorded operations: each runs its forward kernel through
//! [`crate::ops`] and records a backward that adds into its inputs'
//! gradients and its parameters' full-size gradient buffers.

use super::tape::{Grad, Loss, Tape};
use super::tensor::{Param, Tensor};
use crate::backend::{Backend, Buffer, ConvPass, Precision};
use crate::error::{Error, Result};
use crate::ops::{
    self, Activation, ConvArgs, ConvGeometry, LinearWeight, RunningStats, StatsUpdate,
};
use crate::view::View;
use std::rc::Rc;

/// A conv on the active block of a full-size weight.
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    pub out_channels: usize,
    pub groups: usize,
    pub stride: usize,
    pub padding: usize,
    pub precision: Precision,
}

/// Running statistics to use or update: a set per config in one buffer.
#[derive(Clone, Copy)]
pub struct BnStats<'b> {
    pub buf: &'b Buffer,
    pub mean_offset: usize,
    pub var_offset: usize,
}

impl<'b> BnStats<'b> {
    fn running(&self) -> RunningStats<'b> {
        RunningStats {
            buf: self.buf,
            mean_offset: self.mean_offset,
            var_offset: self.var_offset,
        }
    }
}

fn pooled(t: &Tensor) -> View {
    let [n, c, _, _] = t.view.dims;
    View::contiguous([n, c, 1, 1])
}

impl Tape<'_> {
    /// `y = conv(x, w[:oc, :ic/groups]) (+ b[:oc])`.
    pub fn conv2d(
        &mut self,
        x: &Tensor,
        w: &Rc<Param>,
        bias: Option<&Rc<Param>>,
        spec: ConvSpec,
    ) -> Result<Tensor> {
        let [n, ic, h, wd] = x.view.dims;
        let [_, _, kh, kw] = w.dims;
        if spec.groups == 0 || ic % spec.groups != 0 {
            return Err(Error::invalid(
                format!("conv {}", w.name),
                format!(
                    "{ic} input channels do not split into {} groups",
                    spec.groups
                ),
            ));
        }
        let wv = ops::weight_block(w.dims, spec.out_channels, ic / spec.groups)?;
        let size = |i, k| ConvGeometry::out_size(i, k, spec.stride, spec.padding);
        let (Some(ho), Some(wo)) = (size(h, kh), size(wd, kw)) else {
            return Err(Error::invalid(
                format!("conv {}", w.name),
                format!("a {kh}x{kw} kernel does not fit a {h}x{wd} input"),
            ));
        };
        let geometry = ConvGeometry {
            groups: spec.groups,
            stride: [spec.stride; 2],
            padding: [spec.padding; 2],
        };
        let y = self.output([n, spec.out_channels, ho, wo], true)?;
        ops::conv2d(
            self.backend,
            ConvPass::Forward,
            spec.precision,
            &ConvArgs {
                x: (x.buffer(), x.view),
                w: (&w.value, wv),
                y: (y.buffer(), y.view),
                bias: bias.map(|b| (&b.value, 0)),
                geometry,
                accumulate: false,
            },
        )?;
        let (x, w, bias) = (x.clone(), Rc::clone(w), bias.cloned());
        self.record(
            &y,
            Box::new(move |ctx, dy| {
                let wgrad = ConvArgs {
                    x: (x.buffer(), x.view),
                    w: (&w.grad, wv),
                    y: (&dy.buf, dy.view),
                    bias: bias.as_ref().map(|b| (&b.grad, 0)),
                    geometry,
                    accumulate: false,
                };
                // With a data gradient to make, both passes go together
                // (a backend may overlap them); else the wgrad alone.
                let mut wgrad_done = false;
                ctx.add_accumulated(&x, |be, dx, dxv, accumulate| {
                    wgrad_done = true;
                    let dgrad = ConvArgs {
                        x: (dx, *dxv),
                        w: (&w.value, wv),
                        y: (&dy.buf, dy.view),
                        bias: None,
                        geometry,
                        accumulate,
                    };
                    ops::conv2d_backward(be, spec.precision, &dgrad, &wgrad)
                })?;
                if wgrad_done {
                    return Ok(());
                }
                ops::conv2d(ctx.backend, ConvPass::Wgrad, spec.precision, &wgrad)
            }),
        );
        Ok(y)
    }

    /// Training-mode batch norm on `x`'s channels (batch statistics,
    /// running statistics updated per `update`), then `act`.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_train(
        &mut self,
        x: &Tensor,
        gamma: &Rc<Param>,
        beta: &Rc<Param>,
        stats: BnStats,
        update: StatsUpdate,
        eps: f32,
        act: Activation,
    ) -> Result<Tensor> {
        let [n, c, h, w] = x.view.dims;
        let saved = self
            .memory
            .alloc(self.backend, ops::bn_saved_len(c, n * h * w))?;
        let y = self.output(x.view.dims, true)?;
        ops::batch_norm_train(
            self.backend,
            x.buffer(),
            &x.view,
            &gamma.value,
            &beta.value,
            stats.running(),
            update,
            &saved,
            y.buffer(),
            &y.view,
            eps,
            act,
        )?;
        let (x, gamma, beta) = (x.clone(), Rc::clone(gamma), Rc::clone(beta));
        self.record(
            &y,
            Box::new(move |ctx, dy| {
                let backward = |be: &dyn Backend, dx: &Buffer, dxv: &View| {
                    ops::batch_norm_backward(
                        be,
                        x.buffer(),
                        &x.view,
                        &dy.buf,
                        &dy.view,
                        &gamma.value,
                        &beta.value,
                        &saved,
                        &gamma.grad,
                        &beta.grad,
                        dx,
                        dxv,
                        act,
                    )
                };
                if x.requires_grad {
                    ctx.add_written(&x, backward)
                } else {
                    // The kernel writes dx with dγ, dβ: give it scratch.
                    let dx = ctx.scratch(x.view.numel())?;
                    backward(ctx.backend, &dx, &View::contiguous(x.view.dims))
                }
            }),
        );
        Ok(y)
    }

    /// Eval-mode batch norm from running statistics, then `act`. Recorded
    /// like any op, but normally run on a tape that does not record.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_eval(
        &mut self,
        x: &Tensor,
        gamma: &Rc<Param>,
        beta: &Rc<Param>,
        stats: BnStats,
        eps: f32,
        act: Activation,
    ) -> Result<Tensor> {
        if self.is_recording() {
            return Err(Error::invalid(
                "batch_norm_eval",
                "eval-mode batch norm has no backward here; run it on a Tape::no_grad",
            ));
        }
        let y = self.output(x.view.dims, false)?;
        ops::batch_norm_eval(
            self.backend,
            x.buffer(),
            &x.view,
            &gamma.value,
            &beta.value,
            stats.running(),
            y.buffer(),
            &y.view,
            eps,
            act,
        )?;
        Ok(y)
    }

    /// `max(x, 0)` or `min(max(x, 0), 6)` on its own (when not fused into BN).
    pub fn activation(&mut self, x: &Tensor, act: Activation) -> Result<Tensor> {
        let relu6 = match act {
            Activation::None => return Ok(x.clone()),
            Activation::Relu => false,
            Activation::Relu6 => true,
        };
        let y = self.output(x.view.dims, x.requires_grad)?;
        let forward = if relu6 { ops::relu6 } else { ops::relu };
        forward(self.backend, x.buffer(), &x.view, y.buffer(), &y.view)?;
        let x = x.clone();
        self.record(
            &y,
            Box::new(move |ctx, dy| {
                ctx.add_written(&x, |be, dx, dxv| {
                    let backward = if relu6 {
                        ops::relu6_backward
                    } else {
                        ops::relu_backward
                    };
                    backward(be, x.buffer(), &x.view, &dy.buf, &dy.view, dx, dxv)
                })
            }),
        );
        Ok(y)
    }

    /// `a + b` (residual). Its backward hands dy to both inputs, uncopied.
    pub fn add(&mut self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let y = self.output(a.view.dims, a.requires_grad || b.requires_grad)?;
        ops::add(
            self.backend,
            a.buffer(),
            &a.view,
            b.buffer(),
            &b.view,
            y.buffer(),
            &y.view,
        )?;
        let (a, b) = (a.clone(), b.clone());
        self.record(
            &y,
            Box::new(move |ctx, dy| {
                ctx.add_grad(&a, dy.clone())?;
                ctx.add_grad(&b, dy.clone())
            }),
        );
        Ok(y)
    }

    /// Global average pool: `[N, C, H, W]` → `[N, C, 1, 1]`.
    pub fn avg_pool(&mut self, x: &Tensor) -> Result<Tensor> {
        let y = self.output(pooled(x).dims, x.requires_grad)?;
        ops::avg_pool(self.backend, x.buffer(), &x.view, y.buffer(), &y.view)?;
        // The backward needs x's identity and extents, not its values: hold
        // the (small) pooled buffer instead of x's, so x can be freed.
        let x = Tensor {
            buf: Rc::clone(&y.buf),
            ..x.clone()
        };
        self.record(
            &y,
            Box::new(move |ctx, dy| {
                ctx.add_written(&x, |be, dx, dxv| {
                    ops::avg_pool_backward(be, &dy.buf, &dy.view, dx, dxv)
                })
            }),
        );
        Ok(y)
    }

    /// `y = x·W[:out, :in]ᵀ + b[:out]`, `x` being `[N, in, 1, 1]`.
    pub fn linear(
        &mut self,
        x: &Tensor,
        w: &Rc<Param>,
        bias: Option<&Rc<Param>>,
        out_features: usize,
    ) -> Result<Tensor> {
        let [n, _, _, _] = x.view.dims;
        let (out_full, in_full) = (w.dims[0], w.dims[1]);
        let y = self.output([n, out_features, 1, 1], true)?;
        ops::linear_forward(
            self.backend,
            x.buffer(),
            &x.view,
            &LinearWeight {
                w: &w.value,
                out_full,
                in_full,
                bias: bias.map(|b| &b.value),
            },
            y.buffer(),
            &y.view,
        )?;
        let (x, w, bias) = (x.clone(), Rc::clone(w), bias.cloned());
        self.record(
            &y,
            Box::new(move |ctx, dy| {
                let wt = LinearWeight {
                    w: &w.value,
                    out_full,
                    in_full,
                    bias: bias.as_ref().map(|b| &b.value),
                };
                let backward = |be: &dyn Backend, dx: Option<(&Buffer, &View)>| {
                    ops::linear_backward(
                        be,
                        &dy.buf,
                        &dy.view,
                        x.buffer(),
                        &x.view,
                        &wt,
                        dx,
                        &w.grad,
                        bias.as_ref().map(|b| &b.grad),
                    )
                };
                if x.requires_grad {
                    ctx.add_written(&x, |be, dx, dxv| backward(be, Some((dx, dxv))))
                } else {
                    backward(ctx.backend, None)
                }
            }),
        );
        Ok(y)
    }

    /// Mean cross-entropy of `logits` `[N, classes, 1, 1]` against `labels`
    /// (f32 class indices): the loss, and the seed of its backward pass.
    pub fn cross_entropy(&mut self, logits: &Tensor, labels: &Buffer) -> Result<Loss> {
        let (value, dlogits) = self.loss_buffers(logits)?;
        ops::cross_entropy(
            self.backend,
            logits.buffer(),
            &logits.view,
            labels,
            0.0,
            &value,
            0,
            &dlogits.buf,
            &dlogits.view,
        )?;
        Ok(Loss {
            value,
            logits_id: logits.id,
            dlogits,
        })
    }

    /// `KL(softmax(teacher/T) ‖ log_softmax(student/T))`, batchmean; the
    /// teacher gets no gradient (pass it detached).
    pub fn kl_div(&mut self, student: &Tensor, teacher: &Tensor, temperature: f32) -> Result<Loss> {
        let (value, dlogits) = self.loss_buffers(student)?;
        ops::kl_div(
            self.backend,
            student.buffer(),
            &student.view,
            teacher.buffer(),
            &teacher.view,
            temperature,
            &value,
            0,
            &dlogits.buf,
            &dlogits.view,
        )?;
        Ok(Loss {
            value,
            logits_id: student.id,
            dlogits,
        })
    }

    fn loss_buffers(&self, logits: &Tensor) -> Result<(Rc<super::DeviceBuffer>, Grad)> {
        let value = self.memory.alloc(self.backend, 1)?;
        let view = View::contiguous(logits.view.dims);
        let buf = self.memory.alloc(self.backend, view.numel())?;
        Ok((value, Grad { buf, view }))
    }
}
