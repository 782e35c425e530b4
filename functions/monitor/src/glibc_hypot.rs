//! `hypot`, defined in this binary. The forecast's linear algebra (nalgebra's SVD, argmin's
//! norms, under augurs) calls `f64::hypot`; linked against this machine's glibc that binds
//! `hypot@GLIBC_2.35`, and Amazon Linux 2023 (the Lambda runtime `provided.al2023`) has 2.34, so
//! the function would not start there. A definition in the binary is bound first.

/// √(x² + y²) without overflow or underflow in the squares: the larger magnitude scaled out.
#[no_mangle]
pub extern "C" fn hypot(x: f64, y: f64) -> f64 {
    let (a, b) = (x.abs(), y.abs());
    // C99: an infinite argument gives +∞ even when the other is NaN.
    if a.is_infinite() || b.is_infinite() {
        return f64::INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    let (large, small) = if a >= b { (a, b) } else { (b, a) };
    if large == 0.0 {
        return 0.0;
    }
    let ratio = small / large;
    large * ratio.mul_add(ratio, 1.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::hypot;

    #[test]
    fn hypot_is_the_length_of_the_hypotenuse_at_any_scale() {
        assert_eq!(hypot(3.0, 4.0), 5.0);
        assert_eq!(hypot(-5.0, 12.0), 13.0);
        assert_eq!(hypot(0.0, -0.0), 0.0);
        assert_eq!(hypot(7.5, 0.0), 7.5);
        let huge = hypot(3e300, 4e300);
        assert!((huge / 5e300 - 1.0).abs() < 1e-15, "{huge}");
        let tiny = hypot(3e-300, 4e-300);
        assert!((tiny / 5e-300 - 1.0).abs() < 1e-15, "{tiny}");
        for (x, y) in [(1.0_f64, 1.0_f64), (0.1, 0.7), (123.456, 0.001)] {
            let exact = (x * x + y * y).sqrt();
            assert!(
                (hypot(x, y) - exact).abs() <= exact * 4.0 * f64::EPSILON,
                "{x} {y}"
            );
        }
        assert_eq!(hypot(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(hypot(f64::NAN, 1.0).is_nan());
    }
}
