//! Unit tests of the normalisation kernels.

use super::*;

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn batch_norm_train_normalises_each_channel() {
    // (N=2, C=2, S=2)
    let x = [1.0f64, 3.0, 10.0, 10.0, 5.0, 7.0, 20.0, 40.0];
    let r = batch_norm_train(
        &x,
        &[2, 2, 2],
        None,
        None,
        Some((&[0.0; 2][..], &[1.0; 2][..])),
        0.1,
        0.0,
    )
    .unwrap();
    close(&r.mean, &[4.0, 20.0], 1e-12);
    // channel 0: values 1 3 5 7, biased var 5, unbiased 20/3
    close(&r.invstd, &[1.0 / 5f64.sqrt(), 1.0 / 150f64.sqrt()], 1e-12);
    close(r.running_mean.as_ref().unwrap(), &[0.4, 2.0], 1e-12);
    close(
        r.running_var.as_ref().unwrap(),
        &[0.9 + 0.1 * 20.0 / 3.0, 0.9 + 0.1 * 200.0],
        1e-12,
    );
    let y = &r.output;
    let s0: f64 = y[0] + y[1] + y[4] + y[5];
    assert!(s0.abs() < 1e-12);
}

#[test]
fn batch_norm_needs_two_values_per_channel() {
    let e = batch_norm_train(&[1.0f32, 2.0], &[1, 2], None, None, None, 0.1, 1e-5);
    assert!(matches!(e, Err(crate::Error::Value(_))));
    let e = batch_norm_train(
        &[1.0f32; 4],
        &[2, 2],
        Some(&[1.0; 3][..]),
        None,
        None,
        0.1,
        1e-5,
    );
    assert!(matches!(e, Err(crate::Error::Shape(_))));
}

#[test]
fn batch_norm_backward_matches_finite_differences() {
    let shape = [3usize, 2, 2];
    let x: Vec<f64> = (0..12)
        .map(|i| ((i * 7 % 5) as f64) * 0.3 - 0.2 * i as f64)
        .collect();
    let w = [1.5, -0.5];
    let g: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin()).collect();
    let loss = |x: &[f64]| -> f64 {
        let r = batch_norm_train(x, &shape, Some(&w[..]), None, None, 0.1, 1e-5).unwrap();
        r.output.iter().zip(&g).map(|(a, b)| a * b).sum()
    };
    let r = batch_norm_train(&x, &shape, Some(&w[..]), None, None, 0.1, 1e-5).unwrap();
    let grads = batch_norm_backward(
        &g,
        &shape,
        &x,
        &shape,
        (&r.mean, &r.invstd),
        Some(&w[..]),
        true,
        true,
    )
    .unwrap();
    let h = 1e-6;
    for i in 0..x.len() {
        let (mut up, mut dn) = (x.clone(), x.clone());
        up[i] += h;
        dn[i] -= h;
        let num = (loss(&up) - loss(&dn)) / (2.0 * h);
        assert!(
            (num - grads.input[i]).abs() < 1e-6,
            "{i}: {num} {}",
            grads.input[i]
        );
    }
    assert_eq!(grads.bias.unwrap().len(), 2);
}

#[test]
fn large_batch_norm_is_independent_of_the_split() {
    // Large enough to run in parallel; the result must equal a plain two-pass reference.
    let (n, c, s) = (64usize, 40usize, 17usize);
    let x: Vec<f32> = (0..n * c * s)
        .map(|i| ((i * 31 % 97) as f32) * 0.01)
        .collect();
    let r = batch_norm_train(&x, &[n, c, s], None, None, None, 0.1, 1e-5).unwrap();
    for ch in [0usize, 17, 39] {
        let vals: Vec<f64> = (0..n)
            .flat_map(|i| {
                x[(i * c + ch) * s..(i * c + ch + 1) * s]
                    .iter()
                    .map(|&v| v as f64)
            })
            .collect();
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        assert!((r.mean[ch] as f64 - m).abs() < 1e-6);
    }
}

#[test]
fn layer_norm_rows_and_backward() {
    let x = [1.0f64, 2.0, 3.0, 4.0, -1.0, 0.0, 1.0, 6.0];
    let w = [1.0, 2.0, 0.5, -1.0];
    let b = [0.0, 1.0, 0.0, 0.0];
    let f = layer_norm(&x, 2, 4, Some(&w[..]), Some(&b[..]), 1e-5).unwrap();
    close(&f.mean, &[2.5, 1.5], 1e-12);
    let g: Vec<f64> = (0..8).map(|i| (i as f64 * 0.7).cos()).collect();
    let grads = layer_norm_backward(&g, &x, 2, 4, &f.mean, &f.invstd, Some(&w[..]), true).unwrap();
    let loss = |x: &[f64]| -> f64 {
        let f = layer_norm(x, 2, 4, Some(&w[..]), Some(&b[..]), 1e-5).unwrap();
        f.output.iter().zip(&g).map(|(a, b)| a * b).sum()
    };
    let h = 1e-6;
    for i in 0..x.len() {
        let (mut up, mut dn) = (x.to_vec(), x.to_vec());
        up[i] += h;
        dn[i] -= h;
        let num = (loss(&up) - loss(&dn)) / (2.0 * h);
        assert!(
            (num - grads.input[i]).abs() < 1e-6,
            "{i}: {num} {}",
            grads.input[i]
        );
    }
    close(
        grads.bias.as_ref().unwrap(),
        &[g[0] + g[4], g[1] + g[5], g[2] + g[6], g[3] + g[7]],
        1e-12,
    );
}

#[test]
fn layer_split_and_affine_shapes() {
    assert_eq!(
        layer_split("t", &[2, 3, 4], &[3, 4]).unwrap(),
        (2, 12, vec![2])
    );
    assert!(layer_split("t", &[2, 3, 4], &[4, 3]).is_err());
    assert!(layer_split("t", &[2, 3, 4], &[]).is_err());
    assert!(check_affine_shape("t", "weight", Some(&[3, 4]), &[3, 4]).is_ok());
    assert!(check_affine_shape("t", "weight", None, &[3, 4]).is_ok());
    assert!(check_affine_shape("t", "bias", Some(&[12]), &[3, 4]).is_err());
}

#[test]
fn batch_norm_backward_checks_the_gradient_shape() {
    let (x, g) = ([1.0f64; 4], [1.0f64; 4]);
    let stats = ([0.0f64; 2], [1.0f64; 2]);
    let ok = batch_norm_backward(
        &g,
        &[2, 2],
        &x,
        &[2, 2],
        (&stats.0, &stats.1),
        None,
        true,
        false,
    );
    assert!(ok.is_ok());
    assert!(batch_norm_backward(
        &g,
        &[4],
        &x,
        &[2, 2],
        (&stats.0, &stats.1),
        None,
        true,
        false
    )
    .is_err());
}
