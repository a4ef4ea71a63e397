//! Encode functions of the training kernels (batch norm, linear,
//! elementwise and pooling, losses, SGD) on the caller's device and encoder.
//! Each records its dispatches; the caller guarantees every view lies inside
//! its buffer and outputs do not alias inputs (`crate::ops` checks both).

use super::kernels::WgslKernels;
use crate::error::Result;
use crate::kernel_sources::{self as ks, entry};
use crate::params::BnParams;
use crate::params::{EltwiseParams, LinearParams, LossParams, PoolParams, SgdParams};
use wgpu::{Buffer, CommandEncoder, Device};

/// Workgroups for a 256-wide grid-stride loop over `n` items.
fn groups_for(n: u64) -> (u32, u32) {
    (n.div_ceil(256).clamp(1, 65_535) as u32, 1)
}

impl WgslKernels {
    /// Records entry `name` of `shader` with `params` at binding 0 and each
    /// tensor at its own binding.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        shader: &'static str,
        name: &'static str,
        params: &[u8],
        tensors: &[(u32, &Buffer)],
        groups: (u32, u32),
    ) -> Result<()> {
        let pipeline = self.pipeline(device, shader, name)?;
        self.dispatch_bound(device, enc, &pipeline, &[(0, params)], tensors, groups);
        Ok(())
    }

    /// Batch-norm training forward: stats, finalize (running update), normalize.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_bn_forward_train(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        running: &Buffer,
        saved: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> Result<()> {
        let c = p.x.dims[1];
        let pb = bytemuck::bytes_of(p);
        let (norm, norm_groups) = p.for_train_normalize().elementwise_launch();
        let (stats, x_binding) = match p.vec4_launch() {
            Some(_) => (entry::BN_STATS_VEC4_F32, 11),
            None => (entry::BN_STATS_F32, 1),
        };
        self.run(
            device,
            enc,
            ks::WGSL_NORM,
            stats,
            pb,
            &[(x_binding, x), (5, saved)],
            (p.chunks, c),
        )?;
        self.run(
            device,
            enc,
            ks::WGSL_NORM,
            entry::BN_FINALIZE_F32,
            pb,
            &[(5, saved), (6, running)],
            groups_for(c as u64),
        )?;
        self.bn_normalize(device, enc, x, gamma, beta, saved, y, &norm, norm_groups)
    }

    /// The normalize step, 4-wide where the views allow (`BnParams::vec4_launch`).
    #[allow(clippy::too_many_arguments)]
    fn bn_normalize(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        stats: &Buffer,
        y: &Buffer,
        p: &BnParams,
        groups: (u32, u32),
    ) -> Result<()> {
        let pb = bytemuck::bytes_of(p);
        match p.vec4_launch() {
            Some(g4) => self.run(
                device,
                enc,
                ks::WGSL_NORM,
                entry::BN_NORMALIZE_VEC4_F32,
                pb,
                &[(11, x), (3, gamma), (4, beta), (10, stats), (13, y)],
                g4,
            ),
            None => self.run(
                device,
                enc,
                ks::WGSL_NORM,
                entry::BN_NORMALIZE_F32,
                pb,
                &[(1, x), (3, gamma), (4, beta), (10, stats), (7, y)],
                groups,
            ),
        }
    }

    /// Batch-norm eval forward from running statistics.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_bn_forward_eval(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        x: &Buffer,
        gamma: &Buffer,
        beta: &Buffer,
        running: &Buffer,
        y: &Buffer,
        p: &BnParams,
    ) -> Result<()> {
        let (q, groups) = p.elementwise_launch();
        self.bn_normalize(device, enc, x, gamma, beta, running, y, &q, groups)
    }

    /// Batch-norm backward: partials, finalize (dγ/dβ accumulated), dx.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_bn_backward(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
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
        let c = p.x.dims[1];
        let pb = bytemuck::bytes_of(p);
        let (dxp, dx_groups) = p.elementwise_launch();
        let (partials, x_binding, dy_binding) = match p.vec4_launch() {
            Some(_) => (entry::BN_BACKWARD_PARTIALS_VEC4_F32, 11, 12),
            None => (entry::BN_BACKWARD_PARTIALS_F32, 1, 2),
        };
        self.run(
            device,
            enc,
            ks::WGSL_NORM,
            partials,
            pb,
            &[
                (x_binding, x),
                (dy_binding, dy),
                (3, gamma),
                (4, beta),
                (5, saved),
            ],
            (p.chunks, c),
        )?;
        self.run(
            device,
            enc,
            ks::WGSL_NORM,
            entry::BN_BACKWARD_FINALIZE_F32,
            pb,
            &[(5, saved), (8, dgamma), (9, dbeta)],
            groups_for(c as u64),
        )?;
        match dxp.vec4_launch() {
            Some(g4) => self.run(
                device,
                enc,
                ks::WGSL_NORM,
                entry::BN_BACKWARD_DX_VEC4_F32,
                bytemuck::bytes_of(&dxp),
                &[
                    (11, x),
                    (12, dy),
                    (3, gamma),
                    (4, beta),
                    (5, saved),
                    (13, dx),
                ],
                g4,
            ),
            None => self.run(
                device,
                enc,
                ks::WGSL_NORM,
                entry::BN_BACKWARD_DX_F32,
                bytemuck::bytes_of(&dxp),
                &[(1, x), (2, dy), (3, gamma), (4, beta), (5, saved), (7, dx)],
                dx_groups,
            ),
        }
    }

    /// Linear forward `y = x·Wᵀ (+ b)`.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_linear_forward(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        x: &Buffer,
        w: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let t = [(1, x), (2, w), (3, b), (4, y)];
        let g = groups_for(p.y.numel());
        self.run(
            device,
            enc,
            ks::WGSL_LINEAR,
            entry::LINEAR_FORWARD_F32,
            bytemuck::bytes_of(p),
            &t,
            g,
        )
    }

    /// Linear `dx = dy·W` (written).
    pub fn encode_linear_backward_data(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        dy: &Buffer,
        w: &Buffer,
        dx: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let t = [(5, dy), (2, w), (6, dx)];
        let g = groups_for(p.x.numel());
        self.run(
            device,
            enc,
            ks::WGSL_LINEAR,
            entry::LINEAR_BACKWARD_DATA_F32,
            bytemuck::bytes_of(p),
            &t,
            g,
        )
    }

    /// Linear `dW[block] += dyᵀ·x`.
    pub fn encode_linear_backward_weight(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        dy: &Buffer,
        x: &Buffer,
        dw: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let t = [(5, dy), (1, x), (7, dw)];
        let g = groups_for(p.x.dims[1] as u64 * p.y.dims[1] as u64);
        self.run(
            device,
            enc,
            ks::WGSL_LINEAR,
            entry::LINEAR_BACKWARD_WEIGHT_F32,
            bytemuck::bytes_of(p),
            &t,
            g,
        )
    }

    /// Linear `db[slice] += Σ_n dy`.
    pub fn encode_linear_backward_bias(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        dy: &Buffer,
        db: &Buffer,
        p: &LinearParams,
    ) -> Result<()> {
        let t = [(5, dy), (8, db)];
        let g = groups_for(p.y.dims[1] as u64);
        self.run(
            device,
            enc,
            ks::WGSL_LINEAR,
            entry::LINEAR_BACKWARD_BIAS_F32,
            bytemuck::bytes_of(p),
            &t,
            g,
        )
    }

    /// Elementwise op `p.op` (`a` and `b` may be the same buffer).
    pub fn encode_eltwise(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        a: &Buffer,
        b: &Buffer,
        y: &Buffer,
        p: &EltwiseParams,
    ) -> Result<()> {
        let t = [(1, a), (2, b), (3, y)];
        let g = groups_for(p.y.numel());
        self.run(
            device,
            enc,
            ks::WGSL_ELTWISE,
            entry::ELTWISE_F32,
            bytemuck::bytes_of(p),
            &t,
            g,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn run_pool(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        name: &'static str,
        input: &Buffer,
        output: &Buffer,
        p: &PoolParams,
        items: u64,
    ) -> Result<()> {
        let pipeline = self.pipeline(device, ks::WGSL_ELTWISE, name)?;
        self.dispatch_bound(
            device,
            enc,
            &pipeline,
            &[(4, bytemuck::bytes_of(p))],
            &[(5, input), (6, output)],
            groups_for(items),
        );
        Ok(())
    }

    /// Global average pool forward.
    pub fn encode_avg_pool_forward(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        x: &Buffer,
        y: &Buffer,
        p: &PoolParams,
    ) -> Result<()> {
        self.run_pool(
            device,
            enc,
            entry::AVG_POOL_FORWARD_F32,
            x,
            y,
            p,
            p.y.numel(),
        )
    }

    /// Global average pool backward (dx written).
    pub fn encode_avg_pool_backward(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        dy: &Buffer,
        dx: &Buffer,
        p: &PoolParams,
    ) -> Result<()> {
        self.run_pool(
            device,
            enc,
            entry::AVG_POOL_BACKWARD_F32,
            dy,
            dx,
            p,
            p.x.numel(),
        )
    }

    /// Softmax cross-entropy: loss and dlogits.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_cross_entropy(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        logits: &Buffer,
        labels: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        let t = [(1, logits), (2, labels), (4, loss), (5, dlogits)];
        self.run(
            device,
            enc,
            ks::WGSL_LOSS,
            entry::CROSS_ENTROPY_F32,
            bytemuck::bytes_of(p),
            &t,
            (1, 1),
        )
    }

    /// Distillation KL: loss and d(student).
    #[allow(clippy::too_many_arguments)]
    pub fn encode_kl_div(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        student: &Buffer,
        teacher: &Buffer,
        loss: &Buffer,
        dlogits: &Buffer,
        p: &LossParams,
    ) -> Result<()> {
        let t = [(1, student), (3, teacher), (4, loss), (5, dlogits)];
        self.run(
            device,
            enc,
            ks::WGSL_LOSS,
            entry::KL_DIV_F32,
            bytemuck::bytes_of(p),
            &t,
            (1, 1),
        )
    }

    /// One fused SGD step.
    pub fn encode_sgd_step(
        &self,
        device: &Device,
        enc: &mut CommandEncoder,
        param: &Buffer,
        grad: &Buffer,
        momentum: &Buffer,
        p: &SgdParams,
    ) -> Result<()> {
        let t = [(1, param), (2, grad), (3, momentum)];
        let g = groups_for(p.len as u64);
        self.run(
            device,
            enc,
            ks::WGSL_SGD,
            entry::SGD_STEP_F32,
            bytemuck::bytes_of(p),
            &t,
            g,
        )
    }
}
