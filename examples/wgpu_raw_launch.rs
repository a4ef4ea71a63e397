//! Recording a slimmable WGSL kernel with the caller's own wgpu device,
//! buffers and command encoder: fill channels 2..5 of an [1, 6, 2, 2] tensor.
//!
//! Run: `cargo run --example wgpu_raw_launch` (needs a Vulkan adapter).

use slimmable::backend::wgsl::{WgslKernels, adapter};
use slimmable::{View, params::FillParams};
use wgpu::util::DeviceExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let adapter = match adapter::select() {
        Ok(a) => a,
        Err(e) => {
            println!("skipped: {e}");
            return Ok(());
        }
    };
    // The engine's own device, queue and buffer. The adapter's own limits,
    // not wgpu's defaults: the kernels bind each tensor as a whole buffer,
    // and the default 128 MiB binding limit is below what GPUs offer.
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_limits: adapter.limits(),
        ..Default::default()
    }))?;
    let data = vec![0.0f32; 24];
    let buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&data),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 96,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });

    // Our kernel, recorded into the engine's encoder.
    let kernels = WgslKernels::new();
    let view = View::channel_slice([1, 6, 2, 2], 2, 3)?;
    view.check_within("example", data.len())?;
    let params = FillParams {
        dst: view.to_params(),
        value: 7.0,
        _pad: [0; 3],
    };
    let mut encoder = device.create_command_encoder(&Default::default());
    kernels.encode_fill(&device, &mut encoder, &buf, &params)?;
    encoder.copy_buffer_to_buffer(&buf, 0, &readback, 0, 96);
    queue.submit([encoder.finish()]);

    readback
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    device.poll(wgpu::PollType::wait_indefinitely())?;
    let bytes = readback.slice(..).get_mapped_range()?;
    let out: &[f32] = bytemuck::cast_slice(&bytes);
    println!(
        "channels (one value each): {:?}",
        out.chunks(4).map(|c| c[0]).collect::<Vec<_>>()
    );
    Ok(())
}
