//! Checked entry points for every operator: validate views and shapes against
//! the buffers, build the kernel's parameter struct, call the backend.
//! Everything above the backends (autograd, layers, CLI) calls these.

pub(crate) mod checks;
pub mod conv;
pub mod copy;
pub mod eltwise;
pub mod linear;
pub mod loss;
pub mod norm;
pub mod resize;
pub mod sgd;

pub use checks::check_finite;
pub use conv::{ConvArgs, ConvGeometry, conv2d, conv2d_backward, weight_block};
pub use copy::{fill, slice_copy};
pub use eltwise::{
    accumulate, add, avg_pool, avg_pool_backward, relu, relu_backward, relu6, relu6_backward,
};
pub use linear::{LinearWeight, linear_backward, linear_forward};
pub use loss::{check_labels, cross_entropy, kl_div};
pub use norm::{
    Activation, RunningStats, StatsUpdate, batch_norm_backward, batch_norm_eval, batch_norm_train,
    bn_backward_params, bn_chunks, bn_saved_len, bn_train_params,
};
pub use sgd::{SgdConfig, SgdManyStep, sgd_step, sgd_step_many};
