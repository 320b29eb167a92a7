//! Hand-written AVX-512 and AVX2 kernels of the cross-entropy strategies, chosen at run time
//! when the CPU has the instructions (the portable kernels in `cross_entropy` run otherwise).

pub(crate) mod exp512;
#[cfg(target_arch = "x86_64")]
pub(crate) mod narrow256;
#[cfg(target_arch = "x86_64")]
pub(crate) mod narrow512;
