//! Elementwise activations and their gradients.
