//! Choosing a wgpu adapter: prefer hardware, accept a software Vulkan driver
//! (Mesa's lavapipe on machines without a GPU), never a silent GL fallback.
//! This crate compiles wgpu with the Vulkan backend only, so a GL adapter
//! cannot appear; the check below keeps that promise if features change.

use crate::error::{Error, Result};

/// What `slimmable devices` reports about a wgpu adapter.
#[derive(Clone, Debug)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub max_storage_binding_bytes: u64,
    pub max_invocations_per_workgroup: u32,
    pub max_workgroup_storage_bytes: u32,
    pub features: Vec<&'static str>,
}

/// Every adapter wgpu finds, in the order we would prefer them.
pub fn enumerate() -> Vec<wgpu::Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
    adapters.sort_by_key(|a| match a.get_info().device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    });
    adapters
}

/// The best usable adapter, or why there is none.
pub fn select() -> Result<wgpu::Adapter> {
    let adapters = enumerate();
    adapters
        .into_iter()
        .find(|a| a.get_info().backend == wgpu::Backend::Vulkan)
        .ok_or_else(|| Error::BackendUnavailable {
            backend: "wgpu",
            reason: "no Vulkan adapter found. On Debian/Ubuntu without a GPU install Mesa's software \
                     driver: `apt-get install mesa-vulkan-drivers libvulkan1` (scripts/setup.sh does this)"
                .into(),
        })
}

/// A summary of one adapter.
pub fn report(adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let limits = adapter.limits();
    let f = adapter.features();
    let features = [
        (wgpu::Features::SHADER_F16, "shader-f16"),
        (wgpu::Features::TIMESTAMP_QUERY, "timestamp-query"),
        (wgpu::Features::SUBGROUP, "subgroup"),
        (wgpu::Features::IMMEDIATES, "immediates"),
    ]
    .into_iter()
    .filter(|(flag, _)| f.contains(*flag))
    .map(|(_, name)| name)
    .collect();
    AdapterReport {
        name: info.name,
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info),
        max_storage_binding_bytes: limits.max_storage_buffer_binding_size,
        max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_workgroup_storage_bytes: limits.max_compute_workgroup_storage_size,
        features,
    }
}
