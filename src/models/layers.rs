//! The layer list of a slimmable network, as data: each conv, batch norm and
//! linear layer with its PyTorch name, its full-size shapes and how each
//! channel dimension slices with the width. No device code here; autograd
//! and the trainer walk this list.

use super::width::Channels;

/// A 2-D convolution on a channel slice of its full-size OIHW weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    /// PyTorch module path, e.g. `features.0.0`.
    pub name: String,
    pub in_channels: Channels,
    pub out_channels: Channels,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// One filter per channel (groups = active channels); in and out slice together.
    pub depthwise: bool,
    pub bias: bool,
}

impl Conv {
    /// The weight's input extent per group: 1 for depthwise.
    fn weight_in(&self) -> Channels {
        if self.depthwise {
            Channels::Fixed(1)
        } else {
            self.in_channels
        }
    }

    /// Output size along one spatial axis (PyTorch's formula, dilation 1).
    /// `None` where the kernel does not fit, the stride is 0 or the sizes
    /// overflow.
    pub fn output_size(&self, input: usize) -> Option<usize> {
        self.padding
            .checked_mul(2)
            .and_then(|p| input.checked_add(p))
            .and_then(|padded| padded.checked_sub(self.kernel))
            .and_then(|d| d.checked_div(self.stride))
            .map(|q| q + 1)
    }
}

/// Batch norm with shared γ/β sliced to the active channels; running
/// statistics are per width×resolution config (kept beside the model).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub name: String,
    pub channels: Channels,
}

/// PyTorch's BatchNorm2d defaults, which the reference model uses.
pub const BN_EPS: f64 = 1e-5;
pub const BN_MOMENTUM: f64 = 0.1;

/// A fully connected layer `y = x·Wᵀ + b`, weight `[out, in]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub name: String,
    pub in_features: Channels,
    pub out_features: Channels,
    pub bias: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Relu6,
}

/// One step of the forward pass.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Conv(Conv),
    BatchNorm(BatchNorm),
    Activation(Activation),
    /// `body(x) + shortcut(x)`; an empty shortcut is the identity.
    Residual {
        body: Vec<Layer>,
        shortcut: Vec<Layer>,
    },
    /// Mean over all spatial positions: `[N, C, H, W]` → `[N, C]`.
    GlobalAvgPool,
    Linear(Linear),
}

/// What a stored tensor is; decides what is trained and decayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorRole {
    ConvWeight {
        depthwise: bool,
    },
    ConvBias,
    BnWeight,
    BnBias,
    BnRunningMean,
    BnRunningVar,
    /// PyTorch's `num_batches_tracked`, an int64 scalar.
    BnBatchesTracked,
    LinearWeight,
    LinearBias,
}

impl TensorRole {
    /// Learned by gradient descent (the rest are BN buffers).
    pub fn is_trainable(self) -> bool {
        !matches!(
            self,
            TensorRole::BnRunningMean | TensorRole::BnRunningVar | TensorRole::BnBatchesTracked
        )
    }

    /// Weight decay applies to conv and linear weights only, not to
    /// depthwise filters, BN or biases (the MutualNet recipe).
    pub fn takes_weight_decay(self) -> bool {
        matches!(
            self,
            TensorRole::ConvWeight { depthwise: false } | TensorRole::LinearWeight
        )
    }
}

/// One stored tensor: PyTorch name, and per dimension how it slices.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub role: TensorRole,
    /// Empty for a scalar.
    pub dims: Vec<Channels>,
}

impl TensorSpec {
    /// Shape of the stored (full-size) tensor.
    pub fn full_shape(&self) -> Vec<usize> {
        self.dims.iter().map(Channels::full).collect()
    }

    /// Shape of the leading block a width config uses.
    pub fn shape_at(&self, width: f64) -> Vec<usize> {
        self.dims.iter().map(|d| d.at(width)).collect()
    }
}

impl Layer {
    /// The layer's tensors in PyTorch `state_dict` order.
    pub fn push_tensors(&self, out: &mut Vec<TensorSpec>) {
        let spec = |name: &str, suffix: &str, role, dims| TensorSpec {
            name: format!("{name}.{suffix}"),
            role,
            dims,
        };
        match self {
            Layer::Conv(c) => {
                let k = Channels::Fixed(c.kernel);
                out.push(spec(
                    &c.name,
                    "weight",
                    TensorRole::ConvWeight {
                        depthwise: c.depthwise,
                    },
                    vec![c.out_channels, c.weight_in(), k, k],
                ));
                if c.bias {
                    out.push(spec(
                        &c.name,
                        "bias",
                        TensorRole::ConvBias,
                        vec![c.out_channels],
                    ));
                }
            }
            Layer::BatchNorm(b) => {
                let ch = vec![b.channels];
                out.push(spec(&b.name, "weight", TensorRole::BnWeight, ch.clone()));
                out.push(spec(&b.name, "bias", TensorRole::BnBias, ch.clone()));
                out.push(spec(
                    &b.name,
                    "running_mean",
                    TensorRole::BnRunningMean,
                    ch.clone(),
                ));
                out.push(spec(&b.name, "running_var", TensorRole::BnRunningVar, ch));
                out.push(spec(
                    &b.name,
                    "num_batches_tracked",
                    TensorRole::BnBatchesTracked,
                    vec![],
                ));
            }
            Layer::Linear(l) => {
                out.push(spec(
                    &l.name,
                    "weight",
                    TensorRole::LinearWeight,
                    vec![l.out_features, l.in_features],
                ));
                if l.bias {
                    out.push(spec(
                        &l.name,
                        "bias",
                        TensorRole::LinearBias,
                        vec![l.out_features],
                    ));
                }
            }
            Layer::Residual { body, shortcut } => {
                for l in body.iter().chain(shortcut) {
                    l.push_tensors(out);
                }
            }
            Layer::Activation(_) | Layer::GlobalAvgPool => {}
        }
    }

    /// Every batch norm inside this layer, in order.
    pub fn push_batch_norms<'a>(&'a self, out: &mut Vec<&'a BatchNorm>) {
        match self {
            Layer::BatchNorm(b) => out.push(b),
            Layer::Residual { body, shortcut } => {
                for l in body.iter().chain(shortcut) {
                    l.push_batch_norms(out);
                }
            }
            _ => {}
        }
    }
}
