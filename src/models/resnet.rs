//! Slimmable ResNet for small images with basic blocks (He et al. 2016,
//! arXiv 1512.03385, §4.2: a 3×3 stride-1 stem, three stages of 16/32/64
//! channels, global pooling, one linear layer; ResNet-20 has 3 blocks a
//! stage). Every channel count slices as `make_divisible(c·w, 8)`; the stem's
//! input and the classifier's output do not. Where a block changes shape
//! the shortcut is a 1×1 conv + BN (the paper's option B) rather than
//! option A's zero-padded identity, so every op is a sliced conv or BN.
//!
//! Names follow torchvision's ResNet: `conv1`, `bn1`,
//! `layer{s}.{b}.{conv1,bn1,conv2,bn2}`, `layer{s}.{b}.downsample.{0,1}`, `fc`.

use super::layers::{Activation, BatchNorm, Conv, Layer, Linear};
use super::width::Channels;
use super::{Architecture, MAX_CHANNELS, MAX_REPEATS, within_limit};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub const MODEL_NAME: &str = "slimmable_resnet";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResNetConfig {
    pub image_channels: usize,
    pub classes: usize,
    pub stem_channels: usize,
    /// `[channels, blocks, first stride]` per stage.
    pub stages: Vec<[usize; 3]>,
}

impl ResNetConfig {
    /// ResNet-20 of the paper's CIFAR experiments.
    pub fn resnet20(image_channels: usize, classes: usize) -> Self {
        ResNetConfig {
            image_channels,
            classes,
            stem_channels: 16,
            stages: vec![[16, 3, 1], [32, 3, 2], [64, 3, 2]],
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::invalid("ResNet configuration", reason));
        if self.image_channels == 0 || self.classes == 0 || self.stem_channels == 0 {
            return bad("image channels, classes and stem channels must be at least 1".into());
        }
        if self.stages.is_empty() {
            return bad("give at least one stage".into());
        }
        for (i, &[c, n, s]) in self.stages.iter().enumerate() {
            if c == 0 || n == 0 || !matches!(s, 1 | 2) {
                return bad(format!(
                    "stage {i} [c={c}, n={n}, s={s}] needs c, n ≥ 1 and s in {{1, 2}}"
                ));
            }
            within_limit(&format!("stage {i}'s channels"), c, MAX_CHANNELS)?;
            within_limit(&format!("stage {i}'s repeats"), n, MAX_REPEATS)?;
        }
        within_limit("image channels", self.image_channels, MAX_CHANNELS)?;
        within_limit("classes", self.classes, MAX_CHANNELS)?;
        within_limit("stem channels", self.stem_channels, MAX_CHANNELS)?;
        within_limit("stages", self.stages.len(), MAX_REPEATS)?;
        Ok(())
    }

    pub fn build(&self) -> Result<Architecture> {
        self.check()?;
        let conv = |name: String, i, o, kernel, stride| {
            Layer::Conv(Conv {
                name,
                in_channels: i,
                out_channels: o,
                kernel,
                stride,
                padding: kernel / 2,
                depthwise: false,
                bias: false,
            })
        };
        let bn = |name: String, channels| Layer::BatchNorm(BatchNorm { name, channels });
        let relu = || Layer::Activation(Activation::Relu);

        let mut channels = Channels::sliced(self.stem_channels);
        let mut layers = vec![
            conv(
                "conv1".into(),
                Channels::Fixed(self.image_channels),
                channels,
                3,
                1,
            ),
            bn("bn1".into(), channels),
            relu(),
        ];
        for (s, &[c, n, first_stride]) in self.stages.iter().enumerate() {
            let out = Channels::sliced(c);
            for b in 0..n {
                let stride = if b == 0 { first_stride } else { 1 };
                let p = format!("layer{}.{b}", s + 1);
                let body = vec![
                    conv(format!("{p}.conv1"), channels, out, 3, stride),
                    bn(format!("{p}.bn1"), out),
                    relu(),
                    conv(format!("{p}.conv2"), out, out, 3, 1),
                    bn(format!("{p}.bn2"), out),
                ];
                let shortcut = if stride != 1 || channels != out {
                    vec![
                        conv(format!("{p}.downsample.0"), channels, out, 1, stride),
                        bn(format!("{p}.downsample.1"), out),
                    ]
                } else {
                    vec![]
                };
                layers.push(Layer::Residual { body, shortcut });
                layers.push(relu());
                channels = out;
            }
        }
        layers.push(Layer::GlobalAvgPool);
        layers.push(Layer::Linear(Linear {
            name: "fc".into(),
            in_features: channels,
            out_features: Channels::Fixed(self.classes),
            bias: true,
        }));
        Ok(Architecture {
            model: MODEL_NAME.into(),
            config: serde_json::to_value(self).expect("plain struct serializes"),
            image_channels: self.image_channels,
            classes: self.classes,
            layers,
        })
    }
}
