//! Tests of the captured step: plans against eager compositions of the kernels.

use super::*;

#[test]
fn sgd_on_a_linear_model_lowers_the_loss() {
    let plan = Plan {
        layers: vec![
            Layer::Linear {
                in_f: 2,
                out_f: 4,
                bias: true,
            },
            Layer::Act(Activation::Tanh),
            Layer::Linear {
                in_f: 4,
                out_f: 1,
                bias: true,
            },
        ],
        loss: LossSpec::Regression(RegressionLoss::Mse),
    };
    let x = [0.5f64, -1.0, 1.5, 0.25, -0.5, 2.0];
    let y = [1.0f64, -1.0, 0.5];
    let mut w1 = vec![0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.05, -0.15];
    let mut b1 = vec![0.0; 4];
    let mut w2 = vec![0.2, -0.1, 0.3, 0.1];
    let mut b2 = vec![0.0];
    let mut losses = vec![];
    for _ in 0..50 {
        let mut params: Vec<&mut [f64]> = vec![&mut w1, &mut b1, &mut w2, &mut b2];
        let loss = plan
            .step(
                &x,
                &[3, 2],
                Target::Values(&y, &[3, 1]),
                &mut params,
                |ps, gs| {
                    for (p, g) in ps.iter_mut().zip(gs) {
                        p.iter_mut().zip(g).for_each(|(p, g)| *p -= 0.1 * g);
                    }
                    Ok(())
                },
            )
            .unwrap();
        losses.push(loss);
    }
    assert!(losses[49] < 0.5 * losses[0], "{losses:?}");
}

#[test]
fn options_keep_the_output_and_skip_non_finite_losses() {
    let plan = linear_plan(1, LossSpec::Regression(RegressionLoss::Mse));
    let x = [1.0f64, 2.0, -1.0, 0.5];
    let mut w = vec![0.5, -0.25];
    let keep = StepOptions {
        keep_output: true,
        skip_non_finite: true,
    };
    let mut params: Vec<&mut [f64]> = vec![&mut w];
    let out = plan
        .step_with(
            &x,
            &[2, 2],
            Target::Values(&[1.0, 2.0], &[2, 1]),
            &mut params,
            |_, _| Ok(()),
            keep,
        )
        .unwrap();
    assert_eq!(out.output, Some((vec![0.0, -0.625], vec![2, 1])));
    assert!(out.applied);
    let mut called = false;
    let out = plan
        .step_with(
            &x,
            &[2, 2],
            Target::Values(&[f64::NAN, 2.0], &[2, 1]),
            &mut params,
            |_, _| {
                called = true;
                Ok(())
            },
            keep,
        )
        .unwrap();
    assert!(out.loss.is_nan() && !out.applied && !called);
}

fn bn_dropout_plan() -> Plan {
    Plan {
        layers: vec![
            Layer::BatchNorm {
                channels: 2,
                ranks: [2, 3],
                eps: 0.0,
                momentum: 0.5,
                affine: false,
                track: true,
                training: true,
            },
            Layer::Dropout,
            Layer::Linear {
                in_f: 2,
                out_f: 1,
                bias: false,
            },
        ],
        loss: LossSpec::Regression(RegressionLoss::Mse),
    }
}

#[test]
fn batch_norm_updates_running_stats_and_dropout_applies_its_mask() {
    let plan = bn_dropout_plan();
    assert_eq!((plan.n_params(), plan.n_buffers()), (1, 3));
    assert_eq!(
        plan.shapes(&[4, 2]).unwrap(),
        vec![vec![4, 2], vec![4, 2], vec![4, 2], vec![4, 1]]
    );
    assert!(plan.shapes(&[4, 3]).is_err());
    assert!(plan.shapes(&[4, 2, 1, 1]).is_err()); // rank 4 for a 1-d batch norm
                                                  // channel 0: 0, 2, 4, 6 (mean 3, biased var 5, unbiased 20/3); channel 1: 1, -1, 1,
                                                  // -1 (mean 0, biased var 1, unbiased 4/3).
    let x = [0.0f64, 1.0, 2.0, -1.0, 4.0, 1.0, 6.0, -1.0];
    let (mut rm, mut rv) = (vec![1.0, 1.0], vec![1.0, 1.0]);
    // drops the second channel everywhere, doubles the first
    let mut mask = vec![2.0, 0.0, 2.0, 0.0, 2.0, 0.0, 2.0, 0.0];
    let mut w = vec![1.0, 1.0];
    let mut params: Vec<&mut [f64]> = vec![&mut w];
    let out = {
        let mut buffers: Vec<&mut [f64]> = vec![&mut rm, &mut rv, &mut mask];
        plan.step_buffers(
            &x,
            &[4, 2],
            Target::Values(&[0.0; 4], &[4, 1]),
            &mut params,
            &mut buffers,
            |_, _| Ok(()),
            StepOptions {
                keep_output: true,
                skip_non_finite: false,
            },
        )
        .unwrap()
    };
    let k = 1.0 / 5.0f64.sqrt();
    let want: Vec<f64> = [-3.0, -1.0, 1.0, 3.0].iter().map(|v| 2.0 * v * k).collect();
    let (got, shape) = out.output.unwrap();
    assert_eq!(shape, vec![4, 1]);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12, "{got:?} {want:?}");
    }
    assert!(
        (rm[0] - 2.0).abs() < 1e-12 && (rm[1] - 0.5).abs() < 1e-12,
        "{rm:?}"
    );
    assert!((rv[0] - (0.5 + 10.0 / 3.0)).abs() < 1e-12, "{rv:?}");
    assert!((rv[1] - (0.5 + 2.0 / 3.0)).abs() < 1e-12, "{rv:?}");
    // a missing buffer is an error, not a panic
    let mut buffers: Vec<&mut [f64]> = vec![&mut rm, &mut rv];
    let r = plan.step_buffers(
        &x,
        &[4, 2],
        Target::Values(&[0.0; 4], &[4, 1]),
        &mut params,
        &mut buffers,
        |_, _| Ok(()),
        StepOptions::default(),
    );
    assert!(r.is_err());
}

#[test]
fn wrong_parameter_count_is_an_error() {
    let plan = linear_plan(1, LossSpec::Regression(RegressionLoss::Mse));
    let r = plan.step(
        &[1.0f32, 2.0],
        &[1, 2],
        Target::Values(&[1.0], &[1, 1]),
        &mut [],
        |_, _| Ok(()),
    );
    assert!(r.is_err());
}

/// One bias-free linear layer from 2 features to `out_f`, with `loss`.
fn linear_plan(out_f: usize, loss: LossSpec) -> Plan {
    Plan {
        layers: vec![Layer::Linear {
            in_f: 2,
            out_f,
            bias: false,
        }],
        loss,
    }
}

#[test]
fn targets_of_another_shape_are_errors_not_panics() {
    let plan = linear_plan(2, LossSpec::Regression(RegressionLoss::Mse));
    let x = [1.0f64, 2.0, -1.0, 0.5, 0.25, 3.0]; // (3, 2) -> output (3, 2)
    let cases: [(&[f64], &[usize]); 4] = [
        (&[1.0, 2.0, 3.0], &[3]),    // too few values
        (&[1.0, 2.0, 3.0], &[3, 1]), // too few values
        (&[0.0; 6], &[2, 3]),        // as many values, another shape
        (&[0.0; 6], &[3, 3]),        // data and shape disagree
    ];
    for (t, tshape) in cases {
        let mut w = vec![0.5, -0.25, 0.1, 0.2];
        let mut params: Vec<&mut [f64]> = vec![&mut w];
        let r = plan.step(
            &x,
            &[3, 2],
            Target::Values(t, tshape),
            &mut params,
            |_, _| panic!("no update after a bad target"),
        );
        assert!(r.is_err(), "{tshape:?}");
    }
    let plan = linear_plan(
        3,
        LossSpec::CrossEntropy {
            label_smoothing: 0.0,
        },
    );
    for (labels, lshape) in [(&[0i64, 1, 2][..], &[3usize, 1][..]), (&[0, 1], &[2])] {
        let mut w = vec![0.0; 6];
        let mut params: Vec<&mut [f64]> = vec![&mut w];
        let r = plan.step(
            &x,
            &[3, 2],
            Target::Labels(labels, lshape),
            &mut params,
            |_, _| panic!("no update after a bad target"),
        );
        assert!(r.is_err(), "{lshape:?}");
    }
}

#[test]
fn one_hot_class_probabilities_give_the_class_index_step() {
    let plan = linear_plan(
        3,
        LossSpec::CrossEntropy {
            label_smoothing: 0.1,
        },
    );
    let x = [1.0f64, 2.0, -1.0, 0.5, 0.25, 3.0];
    let labels = [2i64, 0, 1];
    let mut one_hot = [0.0f64; 9];
    for (row, &c) in labels.iter().enumerate() {
        one_hot[row * 3 + c as usize] = 1.0;
    }
    let run = |target: Target<'_, f64>| {
        let mut w = vec![0.1, -0.2, 0.3, 0.4, -0.5, 0.6];
        let mut params: Vec<&mut [f64]> = vec![&mut w];
        let loss = plan
            .step(&x, &[3, 2], target, &mut params, |ps, gs| {
                ps[0]
                    .iter_mut()
                    .zip(&gs[0])
                    .for_each(|(p, g)| *p -= 0.1 * g);
                Ok(())
            })
            .unwrap();
        (loss, w)
    };
    let (loss_i, w_i) = run(Target::Labels(&labels, &[3]));
    let (loss_p, w_p) = run(Target::Values(&one_hot, &[3, 3]));
    assert!((loss_i - loss_p).abs() < 1e-12, "{loss_i} {loss_p}");
    for (a, b) in w_i.iter().zip(&w_p) {
        assert!((a - b).abs() < 1e-12, "{w_i:?} {w_p:?}");
    }
}
