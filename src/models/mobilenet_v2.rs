//! Slimmable MobileNetV2 (Sandler et al. 2018, arXiv 1801.04381) with the
//! width rules of US-Nets' `us_mobilenet_v2.py` (reused by MutualNet):
//! - the stem reads the image channels unsliced; every other channel count
//!   is `make_divisible(c·w, 8)`;
//! - an inverted residual's hidden width is `t ×` its input width at `w`;
//!   the depthwise conv slices its channels together;
//! - a block adds its input back where stride is 1 and in == out channels;
//! - the last 1×1 conv keeps its full `last_channels` at every width ≤ 1
//!   (the paper applies the multiplier "to all layers except the very last
//!   convolutional layer"), so the classifier is never sliced.
//!
//! Names follow US-Nets: `features.0` the stem (conv, BN, ReLU6),
//! `features.{i}.body.{j}` the blocks, `features.{last}` the 1×1 conv,
//! `classifier.0` the linear layer. Pooling is global (any resolution).

use super::layers::{Activation, BatchNorm, Conv, Layer, Linear};
use super::width::Channels;
use super::{Architecture, MAX_CHANNELS, MAX_EXPANSION, MAX_REPEATS, within_limit};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub const MODEL_NAME: &str = "slimmable_mobilenet_v2";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MobileNetV2Config {
    pub image_channels: usize,
    pub classes: usize,
    pub stem_channels: usize,
    pub stem_stride: usize,
    /// `[t, c, n, s]`: expansion, output channels, repeats, first stride.
    pub blocks: Vec<[usize; 4]>,
    pub last_channels: usize,
}

impl MobileNetV2Config {
    /// The ImageNet network: 224 px input, 1000 classes, the paper's Table 2.
    pub fn imagenet() -> Self {
        MobileNetV2Config {
            image_channels: 3,
            classes: 1000,
            stem_channels: 32,
            stem_stride: 2,
            blocks: vec![
                [1, 16, 1, 1],
                [6, 24, 2, 2],
                [6, 32, 3, 2],
                [6, 64, 4, 2],
                [6, 96, 3, 1],
                [6, 160, 3, 2],
                [6, 320, 1, 1],
            ],
            last_channels: 1280,
        }
    }

    /// For 28–32 px images: the common CIFAR changes (stem stride 1, the
    /// second stage at stride 1), so the network downsamples 8× instead of
    /// 32× and a 32 px input ends at 4×4.
    pub fn small_image(image_channels: usize, classes: usize) -> Self {
        let mut c = Self::imagenet();
        c.image_channels = image_channels;
        c.classes = classes;
        c.stem_stride = 1;
        c.blocks[1][3] = 1;
        c
    }

    fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::invalid("MobileNetV2 configuration", reason));
        if self.image_channels == 0 || self.classes == 0 {
            return bad("image channels and classes must be at least 1".into());
        }
        if self.stem_channels == 0 || self.last_channels == 0 || self.blocks.is_empty() {
            return bad("give stem and last channels and at least one block".into());
        }
        if !matches!(self.stem_stride, 1 | 2) {
            return bad(format!("stem stride {} is not 1 or 2", self.stem_stride));
        }
        for (i, &[t, c, n, s]) in self.blocks.iter().enumerate() {
            if t == 0 || c == 0 || n == 0 || !matches!(s, 1 | 2) {
                return bad(format!(
                    "block row {i} [t={t}, c={c}, n={n}, s={s}] needs t, c, n ≥ 1 and s in {{1, 2}}"
                ));
            }
            within_limit(&format!("block row {i}'s expansion"), t, MAX_EXPANSION)?;
            within_limit(&format!("block row {i}'s channels"), c, MAX_CHANNELS)?;
            within_limit(&format!("block row {i}'s repeats"), n, MAX_REPEATS)?;
        }
        within_limit("image channels", self.image_channels, MAX_CHANNELS)?;
        within_limit("classes", self.classes, MAX_CHANNELS)?;
        within_limit("stem channels", self.stem_channels, MAX_CHANNELS)?;
        within_limit("last channels", self.last_channels, MAX_CHANNELS)?;
        within_limit("block rows", self.blocks.len(), MAX_REPEATS)?;
        Ok(())
    }

    pub fn build(&self) -> Result<Architecture> {
        self.check()?;
        let conv = |name: String, i, o, kernel, stride, depthwise| {
            Layer::Conv(Conv {
                name,
                in_channels: i,
                out_channels: o,
                kernel,
                stride,
                padding: kernel / 2,
                depthwise,
                bias: false,
            })
        };
        let bn = |name: String, channels| Layer::BatchNorm(BatchNorm { name, channels });
        let relu6 = || Layer::Activation(Activation::Relu6);

        let mut layers = Vec::new();
        let mut channels = Channels::sliced(self.stem_channels);
        let image = Channels::Fixed(self.image_channels);
        layers.push(conv(
            "features.0.0".into(),
            image,
            channels,
            3,
            self.stem_stride,
            false,
        ));
        layers.push(bn("features.0.1".into(), channels));
        layers.push(relu6());

        let mut index = 1;
        for &[t, c, n, s] in &self.blocks {
            let out = Channels::sliced(c);
            for repeat in 0..n {
                let stride = if repeat == 0 { s } else { 1 };
                let prefix = format!("features.{index}.body");
                let hidden = Channels::expanded(channels, t);
                let mut body = Vec::new();
                let mut j = 0;
                let mut name = || {
                    j += 1;
                    format!("{prefix}.{}", j - 1)
                };
                if t != 1 {
                    body.push(conv(name(), channels, hidden, 1, 1, false));
                    body.push(bn(name(), hidden));
                    body.push(relu6());
                    name();
                }
                body.push(conv(name(), hidden, hidden, 3, stride, true));
                body.push(bn(name(), hidden));
                body.push(relu6());
                name();
                body.push(conv(name(), hidden, out, 1, 1, false));
                body.push(bn(name(), out));
                if stride == 1 && channels == out {
                    layers.push(Layer::Residual {
                        body,
                        shortcut: vec![],
                    });
                } else {
                    layers.extend(body);
                }
                channels = out;
                index += 1;
            }
        }

        let last = Channels::Fixed(self.last_channels);
        layers.push(conv(
            format!("features.{index}.0"),
            channels,
            last,
            1,
            1,
            false,
        ));
        layers.push(bn(format!("features.{index}.1"), last));
        layers.push(relu6());
        layers.push(Layer::GlobalAvgPool);
        layers.push(Layer::Linear(Linear {
            name: "classifier.0".into(),
            in_features: last,
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
