//! Data for the trainer: the IDX reader, the datasets, and the batch loader
//! that feeds the fused resize-pack kernel.

pub mod dataset;
pub mod idx;
pub mod loader;

pub use dataset::{Dataset, DatasetKind, Split};
pub use loader::{Batch, BatchOrder};
