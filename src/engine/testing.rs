//! Test helpers shared by the engine's CPU convolutions ([`super::conv`], [`super::depthwise`]).

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Tensor, module};

use super::fused;
use crate::error::Result;

/// Values in [-0.5, 0.5) from a xorshift stream seeded with `seed`.
pub fn random(shape: [usize; 4], seed: u32) -> Tensor<4> {
    let n = shape.iter().product();
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    let v = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as f32 / u32::MAX as f32 - 0.5
        })
        .collect();
    fused::from_vec(v, shape)
}

fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a = a.into_data().try_to_vec::<f32>().unwrap();
    let b = b.into_data().try_to_vec::<f32>().unwrap();
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A convolution as the engine's modules write it: `(x, weight, bias, options, name)`.
pub type Forward =
    fn(Tensor<4>, &Tensor<4>, Option<&Tensor<1>>, &ConvOptions<2>, &str) -> Result<Tensor<4>>;
/// Its input gradient: `(∂y, weight, options, input size, name)`.
pub type InputGrad =
    fn(Tensor<4>, &Tensor<4>, &ConvOptions<2>, [usize; 2], &str) -> Result<Tensor<4>>;

/// Case `t`: `forward` (with a bias) against Burn's `conv2d`, and `input_grad` against Burn's
/// `conv_transpose2d` (the input gradient by the other route), both within 1e-5, for input `x`,
/// weight `wt` and `options` (symmetric stride, padding and dilation).
pub fn check_against_burn(
    t: usize,
    x: Tensor<4>,
    wt: Tensor<4>,
    options: ConvOptions<2>,
    forward: Forward,
    input_grad: InputGrad,
) {
    let [_, _, h, w] = x.dims();
    let [c_out, _, k, _] = wt.dims();
    let (s, p, d, groups) = (
        options.stride[0],
        options.padding_begin()[0],
        options.dilation[0],
        options.groups,
    );
    let bias = random([1, 1, 1, c_out], 9).reshape([c_out]);
    let ours = forward(x.clone(), &wt, Some(&bias), &options, "t").unwrap();
    let theirs = module::conv2d(x, wt.clone(), Some(bias), options.clone());
    let e = max_diff(ours.clone(), theirs);
    assert!(e < 1e-5, "case {t}: forward differs by {e}");

    let dy = random(ours.dims(), 3 * t as u32 + 3);
    let [_, _, oh, ow] = ours.dims();
    let span = |o: usize| (o - 1) * s + d * (k - 1) + 1;
    let pad_out = [h + 2 * p - span(oh), w + 2 * p - span(ow)];
    let ours = input_grad(dy.clone(), &wt, &options, [h, w], "t").unwrap();
    let theirs = module::conv_transpose2d(
        dy,
        wt,
        None,
        ConvTransposeOptions::new([s, s], [p, p], pad_out, [d, d], groups),
    );
    let e = max_diff(ours, theirs);
    assert!(e < 1e-5, "case {t}: input gradient differs by {e}");
}
