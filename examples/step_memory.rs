//! Peak device memory of one MutualNet training step of the small-image
//! slimmable MobileNetV2 (1 channel, 10 classes: the Fashion-MNIST recipe),
//! counted by the autograd's allocation counter: full width at 28 px, then
//! widths 0.25, 0.5, 0.75 at 16, 24, 20 px, four accumulated passes.
//!
//! Run: `cargo run --release --example step_memory -- [BATCH]` (backend from
//! SLIMMABLE_BACKEND: auto, cuda, wgpu or cpu).

use slimmable::autograd::{Memory, Tensor};
use slimmable::backend::{self, Precision};
use slimmable::models::{MobileNetV2Config, init::initial_tensors};
use slimmable::nn::{Pass, Sgd, SlimNet, mutualnet_step};
use slimmable::rng::Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let batch: usize = std::env::args().nth(1).map_or(Ok(8), |s| s.parse())?;
    let be = backend::open(backend::kind_from_env()?)?;
    let be = be.as_ref();
    let arch = MobileNetV2Config::small_image(1, 10).build()?;
    let passes = [(1.0, 28), (0.25, 16), (0.5, 24), (0.75, 20)];
    let net = SlimNet::new(be, &arch, &initial_tensors(&arch, 1)?, passes.len())?;
    let mut opt = Sgd::new(be, &net, 0.9, 5e-4, true)?;
    let mut rng = Rng::new(1);
    let memory = Memory::new();
    let labels: Vec<f32> = (0..batch).map(|_| rng.below(10) as f32).collect();
    let labels = be.upload(&labels)?;
    let inputs = passes
        .iter()
        .map(|&(_, r)| {
            Tensor::from_host(be, &memory, &rng.vec_f32(batch * r * r), [batch, 1, r, r])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pass = |i: usize| Pass {
        width: passes[i].0,
        config: i,
        x: &inputs[i],
    };
    let inputs_bytes = memory.live_bytes();
    let subs: Vec<Pass> = (1..passes.len()).map(pass).collect();
    let t0 = std::time::Instant::now();
    let losses = mutualnet_step(
        be,
        &memory,
        &net,
        &mut opt,
        0.1,
        Precision::F32,
        pass(0),
        &labels,
        &subs,
    )?;
    let loss = be.download(&losses[0])?[0];
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    println!(
        "{} ({}), batch {batch}: step {:.2} s, full-width loss {loss:.4}",
        be.kind(),
        be.device_name(),
        t0.elapsed().as_secs_f64()
    );
    println!(
        "peak {:.2} MiB counted by the tape (activations, saved statistics, activation gradients; {:.2} MiB of it the four inputs) + {:.2} MiB parameters, gradients and BN statistics + {:.2} MiB momentum",
        mib(memory.peak_bytes()),
        mib(inputs_bytes),
        mib(net.state_bytes()),
        mib(opt.state_bytes())
    );
    Ok(())
}
