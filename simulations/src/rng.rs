//! Seeded randomness. Every draw comes from a `ChaCha8Rng` seeded from the
//! scenario's seed, in an order fixed by the simulation, never from the OS.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Independent streams, so that changing how often one part of the model
/// draws does not shift every other part.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Population = 1,
    Behaviour = 2,
    Network = 3,
    Telemetry = 4,
}

pub(crate) fn stream(seed: u64, which: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(which as u64);
    rng
}

/// Uniform in [0, 1).
#[inline]
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    rng.gen::<f64>()
}

/// True with probability `p`.
#[inline]
pub(crate) fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    p > 0.0 && (p >= 1.0 || rng.gen::<f64>() < p)
}

/// Exponential with the given mean.
pub(crate) fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    let u: f64 = rng.gen::<f64>();
    -mean * (1.0 - u).ln()
}

/// Poisson with mean `lambda`: Knuth's method for small means, a rounded
/// normal approximation above 30.
pub(crate) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0u64;
        let mut p = 1.0;
        loop {
            p *= rng.gen::<f64>();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
    // Box-Muller.
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen::<f64>();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (lambda + z * lambda.sqrt()).round().max(0.0) as u64
}

/// Inverse of a piecewise-linear cumulative curve of (x, share) points.
pub(crate) fn invert_curve(curve: &[(f64, f64)], u: f64) -> f64 {
    for w in curve.windows(2) {
        let ((x0, s0), (x1, s1)) = (w[0], w[1]);
        if u < s1 {
            if s1 <= s0 {
                return x0;
            }
            return x0 + (u - s0) / (s1 - s0) * (x1 - x0);
        }
    }
    curve.last().map_or(0.0, |p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_mean_is_close() {
        let mut rng = stream(1, Stream::Telemetry);
        for lambda in [0.5, 3.0, 80.0] {
            let n = 20_000;
            let sum: u64 = (0..n).map(|_| poisson(&mut rng, lambda)).sum();
            let mean = sum as f64 / n as f64;
            assert!((mean - lambda).abs() < lambda * 0.05 + 0.05, "{lambda}: {mean}");
        }
    }

    #[test]
    fn curve_inverts() {
        let c = [(0.0, 0.0), (10.0, 0.5), (100.0, 1.0)];
        assert_eq!(invert_curve(&c, 0.0), 0.0);
        assert_eq!(invert_curve(&c, 0.25), 5.0);
        assert_eq!(invert_curve(&c, 0.75), 55.0);
    }
}
