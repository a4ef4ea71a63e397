//! One `WgslKernels` shared by two `wgpu::Device`s of an engine: its
//! pipeline cache was keyed by entry-point name only, so the second device
//! was handed the first device's pipeline (a wgpu validation error).

use slimmable::backend::wgsl::{WgslKernels, adapter};
use slimmable::{View, params::FillParams};
use wgpu::util::DeviceExt;

/// Fills channels 1..3 of a [1, 4, 2, 2] tensor of -1 with `value` on
/// `device` and reads the tensor back.
fn fill_on(
    kernels: &WgslKernels,
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    value: f32,
) -> Vec<f32> {
    let data = vec![-1.0f32; 16];
    let buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&data),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let view = View::channel_slice([1, 4, 2, 2], 1, 2).unwrap();
    let params = FillParams {
        dst: view.to_params(),
        value,
        _pad: [0; 3],
    };
    let mut encoder = device.create_command_encoder(&Default::default());
    kernels
        .encode_fill(device, &mut encoder, &buf, &params)
        .unwrap();
    encoder.copy_buffer_to_buffer(&buf, 0, &readback, 0, 64);
    queue.submit([encoder.finish()]);
    readback
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let bytes = readback.slice(..).get_mapped_range().unwrap();
    bytemuck::cast_slice::<u8, f32>(&bytes).to_vec()
}

#[test]
fn one_kernel_set_serves_two_devices() {
    let adapter = match adapter::select() {
        Ok(a) => a,
        Err(e) => {
            assert!(
                std::env::var("SLIMMABLE_REQUIRE_VULKAN").as_deref() != Ok("1"),
                "a Vulkan adapter is required here but: {e}"
            );
            println!("skipped: no Vulkan adapter ({e})");
            return;
        }
    };
    let open = || pollster::block_on(adapter.request_device(&Default::default())).unwrap();
    let ((first, first_queue), (second, second_queue)) = (open(), open());
    let kernels = WgslKernels::new();
    for (device, queue, value) in [
        (&first, &first_queue, 3.0),
        (&second, &second_queue, 5.0),
        (&first, &first_queue, 7.0),
    ] {
        let out = fill_on(&kernels, device, queue, value);
        let expected: Vec<f32> = (0..16)
            .map(|i| if (4..12).contains(&i) { value } else { -1.0 })
            .collect();
        assert_eq!(out, expected, "fill of {value}");
    }
}
