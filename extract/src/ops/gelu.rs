//! The tanh GELU, vectorised, for our own operators. tract's AVX-512 GELU stores the tanh
//! argument, runs its tanh kernel over it and combines in a third pass; inside the 1x1
//! convolution pairs it took a quarter of the time (1.15 ns a value). This one is a single pass,
//! twice as fast.
//!
//! `gelu(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`, with the rational
//! `tanh` of tract's portable kernel (exactly +-1 beyond +-7.5): within 5e-6 (absolute below 1,
//! relative above) of the true function and of tract's kernels. The body is plain
//! arithmetic per value, compiled three times (baseline, AVX2 + FMA, AVX-512 F) like
//! [`super::kernel`] and picked from [`SimdLevel`]; Rust never contracts to FMA on its own and
//! IEEE division is exact, so every level gives the same bits; the tests say so.

use abis_matchers::SimdLevel;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

// tract's literals, so the constants round to the same f32.
#[allow(clippy::excessive_precision)]
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const COEF: f32 = 0.044715;

/// Applies the tanh GELU to every value of `data` in place.
pub fn gelu_in_place(level: SimdLevel, data: &mut [f32]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => {
            // SAFETY: SimdLevel only reports Avx512 on a CPU with AVX-512 F (checked at run time).
            unsafe { gelu_avx512(data) }
        }
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => {
            // SAFETY: SimdLevel only reports Avx2 on a CPU with AVX2 and FMA.
            unsafe { gelu_avx2(data) }
        }
        _ => gelu_body(data),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gelu_avx512(data: &mut [f32]) {
    gelu_body(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_avx2(data: &mut [f32]) {
    gelu_body(data)
}

#[inline(always)]
fn gelu_body(data: &mut [f32]) {
    for x in data.iter_mut() {
        let v = *x;
        let inner = SQRT_2_OVER_PI * (v + COEF * v * v * v);
        *x = 0.5 * v * (1.0 + tanh(inner));
    }
}

/// tract's `stanh`, a rational minimax fit of `tanh` over [-7.5, 7.5], saturated outside.
#[inline(always)]
#[allow(clippy::excessive_precision)]
fn tanh(x: f32) -> f32 {
    const LOW: f32 = -7.5;
    const HIGH: f32 = 7.5;
    const ALPHA_13: f32 = -8.488492677e-14;
    const ALPHA_11: f32 = 5.277853000e-11;
    const ALPHA_9: f32 = -2.022500419e-8;
    const ALPHA_7: f32 = 0.00001115424833;
    const ALPHA_5: f32 = 0.003103950131;
    const ALPHA_3: f32 = 0.1308400453;
    const ALPHA_1: f32 = 0.9999999934;
    const BETA_6: f32 = 0.0002546136580;
    const BETA_4: f32 = 0.02449515379;
    const BETA_2: f32 = 0.4641733162;
    const BETA_0: f32 = 1.0;
    let x = x.clamp(LOW, HIGH);
    let x2 = x * x;
    let p = ALPHA_13;
    let p = x2 * p + ALPHA_11;
    let p = x2 * p + ALPHA_9;
    let p = x2 * p + ALPHA_7;
    let p = x2 * p + ALPHA_5;
    let p = x2 * p + ALPHA_3;
    let p = x2 * p + ALPHA_1;
    let p = p * x;
    let q = BETA_6;
    let q = x2 * q + BETA_4;
    let q = x2 * q + BETA_2;
    let q = x2 * q + BETA_0;
    // Exactly +-1 at the clamp (the fit is 3e-7 short of it), so `gelu` is exactly 0 for very
    // negative inputs rather than `x * 1.5e-7`.
    if x == LOW {
        -1.0
    } else if x == HIGH {
        1.0
    } else {
        p / q
    }
}

/// The tanh GELU as a tract operator, in place, for the plans we build ourselves
/// ([`super::PointwiseMlp`]'s tile plan).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Gelu;

impl Op for Gelu {
    fn name(&self) -> StaticName {
        "AbisGelu".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Gelu {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut tensor = args_1!(inputs).into_tensor();
        {
            let mut view = tensor.try_as_plain_ram_mut()?;
            gelu_in_place(SimdLevel::get(), view.as_slice_mut::<f32>()?);
        }
        Ok(tvec![tensor.into_tvalue()])
    }
}

impl TypedOp for Gelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(inputs[0].shape.clone())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::tract_linalg::routines::Func;

    /// The definition, in f64 with the true tanh.
    fn reference(x: f32) -> f64 {
        let x = f64::from(x);
        0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
    }

    #[test]
    fn every_level_matches_the_definition_tract_and_each_other() {
        let tract = Func::Gelu.ew_f32().unwrap();
        let supported = SimdLevel::supported();
        for len in [1, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 257, 513] {
            let input: Vec<f32> = (0..len)
                .map(|i| (i as f32 * 0.618_034).fract() * 24.0 - 12.0)
                .chain([0.0, -0.0, 7.5, -7.5, 1e-30, -1e30, 1e30])
                .collect();
            let mut from_tract = input.clone();
            tract.run(&mut from_tract).unwrap();
            let mut first: Option<Vec<f32>> = None;
            for &level in &supported {
                let mut got = input.clone();
                gelu_in_place(level, &mut got);
                for ((&x, &g), &t) in input.iter().zip(&got).zip(&from_tract) {
                    let want = reference(x);
                    let tolerance = 5e-6 * want.abs().max(1.0);
                    assert!(
                        (f64::from(g) - want).abs() <= tolerance,
                        "{level} len {len} at {x}: {g} vs {want}"
                    );
                    // tract's kernel is not saturated beyond about -1e3 (x * 1.5e-7 there).
                    assert!(
                        x.abs() > 1e3 || (g - t).abs() <= 5e-6 * t.abs().max(1.0),
                        "{level} len {len} at {x}: {g} vs tract's {t}"
                    );
                }
                match &first {
                    None => first = Some(got),
                    Some(first) => assert!(
                        first
                            .iter()
                            .zip(&got)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{level} differs from {} at len {len}",
                        supported[0]
                    ),
                }
            }
        }
    }

    #[test]
    fn the_operator_runs_in_place_on_any_shape() {
        let input = Tensor::from_shape(&[2, 3], &[-2f32, -1.0, 0.0, 0.5, 1.0, 3.0]).unwrap();
        let out = Gelu
            .eval(
                &EvalContext::out_of_plan(),
                tvec![input.clone().into_tvalue()],
            )
            .unwrap()
            .remove(0);
        assert_eq!(out.shape(), &[2, 3]);
        let mut expected = input
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        gelu_in_place(SimdLevel::Scalar, &mut expected);
        assert_eq!(
            out.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap(),
            expected
        );
    }
}
