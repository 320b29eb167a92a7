//! The runtime the kernels run on, apart from the kernels themselves: the thread team, when
//! and how to split work over it, reused memory blocks, per-thread scratch buffers and
//! streaming copies.

pub mod parallel;
pub mod reuse;
pub mod scratch;
pub mod stream;
pub mod team;
