//! Random numbers: a hand-written SplitMix64 generator and the scenario's distributions.
//!
//! Why hand-written rather than `rand` + `rand_distr`: the results of a seed must stay the same
//! across dependency upgrades (an analyst re-runs last year's scenario and gets last year's
//! figures), the simulator needs *keyed* streams — one short stream per (replication, case,
//! purpose, occurrence), so that two scenarios compared with common random numbers give case *k*
//! the same intake time whatever happened before it — and the distributions used are a page of
//! textbook formulas. SplitMix64 passes BigCrush; its finalizer is also a good hash for keys.

use serde::Deserialize;

/// A SplitMix64 stream (Steele, Lea & Flood 2014).
#[derive(Debug, Clone)]
pub struct Stream(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finalizer: a bijective avalanche mix of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A key derived from a parent key and a label: independent-looking for different labels.
pub fn derive(parent: u64, label: u64) -> u64 {
    mix(parent ^ mix(label.wrapping_add(GOLDEN)))
}

impl Stream {
    /// A stream starting from `key`.
    pub fn new(key: u64) -> Stream {
        Stream(key)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// A uniform number in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform number in `(0, 1]`, safe for `ln`.
    pub fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.uniform() < p
    }

    /// An exponential variate with mean 1.
    pub fn exp1(&mut self) -> f64 {
        -self.uniform_open0().ln()
    }

    /// A standard normal variate (Marsaglia's polar method; the second value is discarded so
    /// that a keyed stream's first draw does not depend on earlier calls).
    pub fn normal(&mut self) -> f64 {
        // Accepts with probability π/4 per try: 64 tries fail with probability < 1e-42.
        for _ in 0..64 {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * s.ln() / s).sqrt();
            }
        }
        0.0
    }

    /// A gamma variate with `shape > 0` and scale 1 (Marsaglia & Tsang 2000).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        debug_assert!(shape > 0.0);
        if shape < 1.0 {
            // Boost: Gamma(a) = Gamma(a + 1) · U^(1/a).
            let u = self.uniform_open0();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        // Acceptance is above 95 % for every shape ≥ 1.
        for _ in 0..256 {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform_open0();
            if u < 1.0 - 0.0331 * x * x * x * x || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
        d
    }
}

/// A distribution of durations in minutes (service, review, delays). Every variate is ≥ 0.
///
/// ```ron
/// Exponential(mean: 12.0)
/// Fixed(5.0)
/// Uniform(min: 2.0, max: 8.0)
/// Triangular(min: 5.0, mode: 10.0, max: 30.0)
/// Normal(mean: 20.0, sd: 5.0)                              // redrawn below 0
/// TruncatedNormal(mean: 20.0, sd: 5.0, min: 10.0, max: 40.0)
/// LogNormal(mean: 30.0, sd: 15.0)                          // mean and sd of the duration itself
/// Gamma(shape: 2.0, scale: 15.0)
/// Empirical([4.0, 6.0, 6.0, 9.0, 15.0])                    // each listed value equally likely
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Dist {
    /// Always the same value.
    Fixed(f64),
    /// Exponential with the given mean (memoryless; M/M/c queues).
    Exponential {
        /// Mean in minutes, > 0.
        mean: f64,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Triangular on `[min, max]` with the given mode.
    Triangular {
        /// Lower bound.
        min: f64,
        /// Most likely value.
        mode: f64,
        /// Upper bound.
        max: f64,
    },
    /// Normal, redrawn while negative.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Normal restricted to `[min, max]` (redrawn outside; clamped after 1,000 tries).
    TruncatedNormal {
        /// Mean of the untruncated normal.
        mean: f64,
        /// Standard deviation of the untruncated normal.
        sd: f64,
        /// Lower bound (≥ 0).
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Log-normal with the given mean and standard deviation of the duration itself.
    LogNormal {
        /// Mean, > 0.
        mean: f64,
        /// Standard deviation, > 0.
        sd: f64,
    },
    /// Gamma with shape k and scale θ (mean kθ).
    Gamma {
        /// Shape k > 0.
        shape: f64,
        /// Scale θ > 0.
        scale: f64,
    },
    /// One of the listed values, each equally likely (an empirical sample).
    Empirical(Vec<f64>),
}

impl Dist {
    /// What is wrong with the parameters, if anything (`None` = valid).
    pub fn problem(&self) -> Option<String> {
        let finite_nonneg = |x: f64| x.is_finite() && x >= 0.0;
        match self {
            Dist::Fixed(v) if !finite_nonneg(*v) => Some(format!("Fixed({v}): the value must be a finite number ≥ 0")),
            Dist::Exponential { mean } if !(mean.is_finite() && *mean > 0.0) => {
                Some(format!("Exponential(mean: {mean}): the mean must be a finite number > 0"))
            }
            Dist::Uniform { min, max } if !(finite_nonneg(*min) && max.is_finite() && min <= max) => {
                Some(format!("Uniform(min: {min}, max: {max}): need 0 ≤ min ≤ max"))
            }
            Dist::Triangular { min, mode, max }
                if !(finite_nonneg(*min) && max.is_finite() && min <= mode && mode <= max && min < max) =>
            {
                Some(format!(
                    "Triangular(min: {min}, mode: {mode}, max: {max}): need 0 ≤ min ≤ mode ≤ max and min < max"
                ))
            }
            Dist::Normal { mean, sd } if !(mean.is_finite() && *mean > 0.0 && sd.is_finite() && *sd >= 0.0) => {
                Some(format!("Normal(mean: {mean}, sd: {sd}): need mean > 0 and sd ≥ 0"))
            }
            Dist::TruncatedNormal { mean, sd, min, max }
                if !(mean.is_finite()
                    && sd.is_finite()
                    && *sd >= 0.0
                    && finite_nonneg(*min)
                    && max.is_finite()
                    && min < max
                    && *mean + 3.0 * sd >= *min
                    && *mean - 3.0 * sd <= *max) =>
            {
                Some(format!(
                    "TruncatedNormal(mean: {mean}, sd: {sd}, min: {min}, max: {max}): need sd ≥ 0, 0 ≤ min < max, and \
                     [min, max] within 3 sd of the mean"
                ))
            }
            Dist::LogNormal { mean, sd } if !(mean.is_finite() && *mean > 0.0 && sd.is_finite() && *sd > 0.0) => {
                Some(format!("LogNormal(mean: {mean}, sd: {sd}): need mean > 0 and sd > 0"))
            }
            Dist::Gamma { shape, scale }
                if !(shape.is_finite() && *shape > 0.0 && scale.is_finite() && *scale > 0.0) =>
            {
                Some(format!("Gamma(shape: {shape}, scale: {scale}): need shape > 0 and scale > 0"))
            }
            Dist::Empirical(values) if values.is_empty() || !values.iter().all(|v| finite_nonneg(*v)) => {
                Some("Empirical([...]): list at least one value, every value a finite number ≥ 0".to_owned())
            }
            _ => None,
        }
    }

    /// The distribution of `k` times a variate: every duration parameter scaled, so the shape
    /// (the coefficient of variation) stays and the mean is `k` times the mean (for a
    /// truncated normal, approximately: its bounds scale too).
    pub fn scaled(&self, k: f64) -> Dist {
        match self {
            Dist::Fixed(v) => Dist::Fixed(v * k),
            Dist::Exponential { mean } => Dist::Exponential { mean: mean * k },
            Dist::Uniform { min, max } => Dist::Uniform { min: min * k, max: max * k },
            Dist::Triangular { min, mode, max } => Dist::Triangular { min: min * k, mode: mode * k, max: max * k },
            Dist::Normal { mean, sd } => Dist::Normal { mean: mean * k, sd: sd * k },
            Dist::TruncatedNormal { mean, sd, min, max } => {
                Dist::TruncatedNormal { mean: mean * k, sd: sd * k, min: min * k, max: max * k }
            }
            Dist::LogNormal { mean, sd } => Dist::LogNormal { mean: mean * k, sd: sd * k },
            Dist::Gamma { shape, scale } => Dist::Gamma { shape: *shape, scale: scale * k },
            Dist::Empirical(values) => Dist::Empirical(values.iter().map(|v| v * k).collect()),
        }
    }

    /// The mean of the distribution (for reports and sanity checks).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Exponential { mean } | Dist::LogNormal { mean, .. } | Dist::Normal { mean, .. } => *mean,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Dist::TruncatedNormal { mean, min, max, .. } => mean.clamp(*min, *max),
            Dist::Gamma { shape, scale } => shape * scale,
            Dist::Empirical(values) => values.iter().sum::<f64>() / values.len().max(1) as f64,
        }
    }

    /// One variate drawn from `s`.
    #[inline]
    pub fn sample(&self, s: &mut Stream) -> f64 {
        // The common case inline at the call site (services and reviews are often exponential).
        match *self {
            Dist::Exponential { mean } => mean * s.exp1(),
            _ => self.sample_other(s),
        }
    }

    /// [`Dist::sample`] for every distribution.
    fn sample_other(&self, s: &mut Stream) -> f64 {
        match *self {
            Dist::Fixed(v) => v,
            Dist::Exponential { mean } => mean * s.exp1(),
            Dist::Uniform { min, max } => min + (max - min) * s.uniform(),
            Dist::Triangular { min, mode, max } => {
                let u = s.uniform();
                let cut = (mode - min) / (max - min);
                if u < cut {
                    min + ((max - min) * (mode - min) * u).sqrt()
                } else {
                    max - ((max - min) * (max - mode) * (1.0 - u)).sqrt()
                }
            }
            Dist::Normal { mean, sd } => {
                // P(X < 0) ≤ 1/2 when mean > 0: 64 tries fail with probability ≤ 2^-64.
                for _ in 0..64 {
                    let x = mean + sd * s.normal();
                    if x >= 0.0 {
                        return x;
                    }
                }
                mean
            }
            Dist::TruncatedNormal { mean, sd, min, max } => {
                for _ in 0..1000 {
                    let x = mean + sd * s.normal();
                    if (min..=max).contains(&x) {
                        return x;
                    }
                }
                mean.clamp(min, max)
            }
            Dist::LogNormal { mean, sd } => {
                let sigma2 = (1.0 + (sd * sd) / (mean * mean)).ln();
                let mu = mean.ln() - sigma2 / 2.0;
                (mu + sigma2.sqrt() * s.normal()).exp()
            }
            Dist::Gamma { shape, scale } => scale * s.gamma(shape),
            Dist::Empirical(ref values) => values[((s.uniform() * values.len() as f64) as usize).min(values.len() - 1)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(d: &Dist, n: usize) -> (f64, f64) {
        let mut s = Stream::new(7);
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut s)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!(xs.iter().all(|x| *x >= 0.0), "{d:?} drew a negative value");
        (mean, var.sqrt())
    }

    #[test]
    fn sample_moments_match_the_parameters() {
        let n = 200_000;
        let close = |got: f64, want: f64, what: &str| {
            assert!((got - want).abs() <= 0.02 * want.max(1.0), "{what}: got {got}, want {want}");
        };
        let (m, sd) = moments(&Dist::Exponential { mean: 12.0 }, n);
        close(m, 12.0, "exp mean");
        close(sd, 12.0, "exp sd");
        let (m, sd) = moments(&Dist::LogNormal { mean: 30.0, sd: 15.0 }, n);
        close(m, 30.0, "lognormal mean");
        close(sd, 15.0, "lognormal sd");
        let (m, sd) = moments(&Dist::Gamma { shape: 2.0, scale: 15.0 }, n);
        close(m, 30.0, "gamma mean");
        close(sd, 2f64.sqrt() * 15.0, "gamma sd");
        let (m, _) = moments(&Dist::Gamma { shape: 0.5, scale: 4.0 }, n);
        close(m, 2.0, "gamma(0.5) mean");
        let (m, sd) = moments(&Dist::Normal { mean: 50.0, sd: 5.0 }, n);
        close(m, 50.0, "normal mean");
        close(sd, 5.0, "normal sd");
        let (m, _) = moments(&Dist::Triangular { min: 5.0, mode: 10.0, max: 30.0 }, n);
        close(m, 15.0, "triangular mean");
        let (m, _) = moments(&Dist::Uniform { min: 2.0, max: 8.0 }, n);
        close(m, 5.0, "uniform mean");
        let (m, _) = moments(&Dist::Empirical(vec![1.0, 2.0, 3.0, 6.0]), n);
        close(m, 3.0, "empirical mean");
        let d = Dist::TruncatedNormal { mean: 20.0, sd: 10.0, min: 15.0, max: 25.0 };
        let mut s = Stream::new(1);
        assert!((0..10_000).map(|_| d.sample(&mut s)).all(|x| (15.0..=25.0).contains(&x)));
    }

    #[test]
    fn streams_are_reproducible_and_keyed() {
        let a: Vec<u64> = (0..4).map(|_| Stream::new(derive(42, 1)).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Stream::new(derive(42, 1)).next_u64(), Stream::new(derive(42, 2)).next_u64());
        assert!(Dist::Exponential { mean: 0.0 }.problem().is_some());
        assert!(Dist::Triangular { min: 1.0, mode: 0.5, max: 2.0 }.problem().is_some());
        assert!(Dist::Empirical(vec![]).problem().is_some());
        assert!(Dist::Exponential { mean: 3.0 }.problem().is_none());
    }
}
