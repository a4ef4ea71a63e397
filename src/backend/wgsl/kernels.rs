//! WGSL pipelines for one device, and the encode functions other engines call
//! with their own `wgpu::Device` and buffers.
//!
//! Each `encode_*` records one dispatch into the caller's command encoder.
//! The parameter struct is uploaded as a small uniform buffer created on the
//! spot (mapped at creation, so no queue is needed). Bindings: 0 = params,
//! then the tensors in the order of the CUDA kernel's pointer arguments.

use crate::error::{Error, Result};
use crate::kernel_sources::{self, entry};
use crate::params::{FillParams, ResizePackParams, SliceCopyParams};
use std::collections::HashMap;
use std::sync::Mutex;
use wgpu::util::DeviceExt;

/// Workgroup size of the elementwise shaders (`@workgroup_size(256)`).
const WORKGROUP: u64 = 256;

/// naga's runtime checks without its loop bounding: a counter in every
/// loop, which may keep a GPU's compiler from unrolling the GEMMs' inner
/// loops (untimed on a GPU; on lavapipe it changed nothing, stop 14).
fn lean_checks() -> wgpu::ShaderRuntimeChecks {
    wgpu::ShaderRuntimeChecks {
        force_loop_bounding: false,
        ..wgpu::ShaderRuntimeChecks::checked()
    }
}

/// `SLIMMABLE_WGSL_LOOP_BOUNDING=1`: shaders keep naga's loop bounding (A/B).
fn opted_in_loop_bounding() -> bool {
    crate::switches::opted_in!("SLIMMABLE_WGSL_LOOP_BOUNDING")
}

/// Compiled pipelines, created on first use, and the scratch buffer the
/// wgrad GEMM's partial sums go to. Both are kept per `wgpu::Device`, so
/// an engine with several devices may share one `WgslKernels` (a pipeline
/// or buffer of one device is invalid on another).
pub struct WgslKernels {
    pipelines: Mutex<HashMap<(wgpu::Device, &'static str), wgpu::ComputePipeline>>,
    conv_partials: Mutex<HashMap<wgpu::Device, wgpu::Buffer>>,
    /// How many workgroups a weight gradient split over its pixels aims for.
    pub(crate) wgrad_target_workgroups: u64,
}

/// Split wgrad workgroups to aim for on a GPU: 2048 workgroups of 64
/// invocations are 15 per SM of an H200. 256 (two per SM) left the
/// depthwise wgrad at 9x its forward there (run 8).
pub const GPU_WGRAD_TARGET_WORKGROUPS: u64 = 2048;
/// The same on a CPU driver (lavapipe), where every extra split is more
/// partial sums to write and reduce on the same few cores (stop 13).
pub const CPU_WGRAD_TARGET_WORKGROUPS: u64 = 256;

impl Default for WgslKernels {
    fn default() -> Self {
        Self::new()
    }
}

impl WgslKernels {
    /// Kernels for a GPU adapter (see [`Self::with_wgrad_target_workgroups`]
    /// for a CPU driver).
    pub fn new() -> Self {
        WgslKernels {
            pipelines: Mutex::new(HashMap::new()),
            conv_partials: Mutex::new(HashMap::new()),
            wgrad_target_workgroups: GPU_WGRAD_TARGET_WORKGROUPS,
        }
    }

    /// The same kernels with split weight gradients aiming for `target`
    /// workgroups (at least 1).
    pub fn with_wgrad_target_workgroups(mut self, target: u64) -> Self {
        self.wgrad_target_workgroups = target.max(1);
        self
    }

    /// A storage buffer of at least `floats` f32s (and 16 bytes) for the
    /// wgrad partial sums, grown when a launch needs more. Sharing one is
    /// safe: wgpu orders every dispatch that writes it after the previous
    /// one that read it, within a command buffer and across submissions.
    pub(crate) fn conv_partials(&self, device: &wgpu::Device, floats: u64) -> wgpu::Buffer {
        let bytes = (floats * 4).max(16);
        let mut cached = self.conv_partials.lock().unwrap_or_else(|e| e.into_inner());
        match cached.get(device) {
            Some(b) if b.size() >= bytes => b.clone(),
            _ => {
                let b = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("slimmable wgrad partials"),
                    size: bytes,
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                });
                cached.insert(device.clone(), b.clone());
                b
            }
        }
    }

    pub(crate) fn pipeline(
        &self,
        device: &wgpu::Device,
        shader: &'static str,
        entry_point: &'static str,
    ) -> Result<wgpu::ComputePipeline> {
        self.pipeline_with(device, shader, entry_point, None)
    }

    /// A pipeline whose bind group 0 is: binding 0 a uniform, bindings
    /// 1..=storage read_write storage buffers, whether or not the entry point
    /// uses them all (so one bind group serves every entry of a shader).
    pub(crate) fn pipeline_fixed_layout(
        &self,
        device: &wgpu::Device,
        shader: &'static str,
        entry_point: &'static str,
        storage: u32,
    ) -> Result<wgpu::ComputePipeline> {
        self.pipeline_with(device, shader, entry_point, Some(storage))
    }

    fn pipeline_with(
        &self,
        device: &wgpu::Device,
        shader: &'static str,
        entry_point: &'static str,
        fixed_storage: Option<u32>,
    ) -> Result<wgpu::ComputePipeline> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        let key = (device.clone(), entry_point);
        if let Some(p) = cache.get(&key) {
            return Ok(p.clone());
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(entry_point),
            source: wgpu::ShaderSource::Wgsl(kernel_sources::wgsl_source(shader).into()),
        };
        let module = if opted_in_loop_bounding() {
            device.create_shader_module(desc)
        } else {
            // SAFETY: the one check left out, naga's loop bounding, guards
            // against loops that never end. Every loop in shaders/ counts
            // to a bound taken from its parameters (sizes the host checked
            // non-zero) or halves an interval, so each one ends. Buffer and
            // index bounds checks and division guards stay on.
            unsafe { device.create_shader_module_trusted(desc, lean_checks()) }
        };
        let layout = fixed_storage.map(|storage| {
            let mut entries = vec![wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }];
            entries.extend((1..=storage).map(|binding| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: false },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }));
            let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(entry_point),
                entries: &entries,
            });
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(entry_point),
                bind_group_layouts: &[Some(&bgl)],
                immediate_size: 0,
            })
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry_point),
            layout: layout.as_ref(),
            module: &module,
            entry_point: Some(entry_point),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(err) = pollster::block_on(scope.pop()) {
            return Err(Error::Wgpu {
                context: format!("creating pipeline {entry_point}"),
                message: err.to_string(),
            });
        }
        cache.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    fn dispatch(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        params: &[u8],
        tensors: &[&wgpu::Buffer],
        elements: u64,
    ) {
        let groups = elements.div_ceil(WORKGROUP).clamp(1, 65_535) as u32;
        self.dispatch_grid(device, encoder, pipeline, params, tensors, [groups, 1, 1]);
    }

    /// Records one dispatch of `grid` workgroups with a fresh uniform
    /// holding `params` at binding 0 and `tensors` at bindings 1, 2, ...
    pub(crate) fn dispatch_grid(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        params: &[u8],
        tensors: &[&wgpu::Buffer],
        grid: [u32; 3],
    ) {
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("slimmable params"),
            contents: params,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        entries.extend(
            tensors
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: b.as_entire_binding(),
                }),
        );
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
    }

    /// Records one dispatch of `groups` workgroups with `params` at binding
    /// 0 and each tensor at its own binding number (the training shaders
    /// bind by role; each entry point uses a subset).
    pub(super) fn dispatch_bound(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        uniforms: &[(u32, &[u8])],
        tensors: &[(u32, &wgpu::Buffer)],
        groups: (u32, u32),
    ) {
        let uniform_bufs: Vec<(u32, wgpu::Buffer)> = uniforms
            .iter()
            .map(|(b, bytes)| {
                let buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("slimmable params"),
                    contents: bytes,
                    usage: wgpu::BufferUsages::UNIFORM,
                });
                (*b, buf)
            })
            .collect();
        let mut entries: Vec<wgpu::BindGroupEntry> = uniform_bufs
            .iter()
            .map(|(b, buf)| wgpu::BindGroupEntry {
                binding: *b,
                resource: buf.as_entire_binding(),
            })
            .collect();
        entries.extend(tensors.iter().map(|(b, buf)| wgpu::BindGroupEntry {
            binding: *b,
            resource: buf.as_entire_binding(),
        }));
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups.0.max(1), groups.1.max(1), 1);
    }

    /// Records `slimmable_slice_copy_f32`: `dst[p.dst] = src[p.src]`.
    /// The caller guarantees both views have the same extents (the kernel
    /// decodes an element's coordinates once, from `p.dst`), lie inside
    /// their buffers and do not overlap (the crate's own callers check all
    /// three with `crate::ops`).
    pub fn encode_slice_copy(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        src: &wgpu::Buffer,
        dst: &wgpu::Buffer,
        p: &SliceCopyParams,
    ) -> Result<()> {
        if p.src.packed_vec4_runs() && p.dst.packed_vec4_runs() {
            return self.run(
                device,
                encoder,
                kernel_sources::WGSL_COPY,
                entry::SLICE_COPY_RUNS_VEC4_F32,
                bytemuck::bytes_of(p),
                &[(3, src), (4, dst)],
                ((p.dst.numel() / 4).div_ceil(256).clamp(1, 65_535) as u32, 1),
            );
        }
        let pipeline = self.pipeline(device, kernel_sources::WGSL_COPY, entry::SLICE_COPY_F32)?;
        self.dispatch(
            device,
            encoder,
            &pipeline,
            bytemuck::bytes_of(p),
            &[src, dst],
            p.dst.numel(),
        );
        Ok(())
    }

    /// Records `slimmable_fill_f32`: `dst[p.dst] = p.value`.
    pub fn encode_fill(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        dst: &wgpu::Buffer,
        p: &FillParams,
    ) -> Result<()> {
        let pipeline = self.pipeline(device, kernel_sources::WGSL_FILL, entry::FILL_F32)?;
        self.dispatch(
            device,
            encoder,
            &pipeline,
            bytemuck::bytes_of(p),
            &[dst],
            p.dst.numel(),
        );
        Ok(())
    }

    /// Records `slimmable_resize_pack` (`slimmable_resize_pack_mutualnet`
    /// when `p.cascade` is 1): every output of `p` from the images in
    /// `src` (`u8` packed 4 per word, or `f32`) into `dst`, as described by the
    /// descriptor table `desc` (built by `crate::ops::resize::plan`, which
    /// also checks what the caller must guarantee: the images lie inside
    /// `src`, the outputs inside `dst`).
    pub fn encode_resize_pack(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        src: &wgpu::Buffer,
        desc: &wgpu::Buffer,
        dst: &wgpu::Buffer,
        p: &ResizePackParams,
    ) -> Result<()> {
        let name = if p.cascade != 0 {
            entry::RESIZE_PACK_MUTUALNET
        } else {
            entry::RESIZE_PACK
        };
        let pipeline = self.pipeline(device, kernel_sources::WGSL_RESIZE_PACK, name)?;
        self.dispatch(
            device,
            encoder,
            &pipeline,
            bytemuck::bytes_of(p),
            &[src, desc, dst],
            p.total_groups as u64,
        );
        Ok(())
    }
}
