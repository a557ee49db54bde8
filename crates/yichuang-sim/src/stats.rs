//! Streaming statistics: memory bounded by the number of buckets and batches, never by the
//! number of observations.
//!
//! - [`Histogram`]: log-linear buckets (256 per power of two, values in 1/64 minute, up to about
//!   ten years), so every quantile is within 0.2 % of the exact order statistic; merges by
//!   adding counts. 5,632 `u32` buckets (22 KB): the dozen histograms a case touches stay in
//!   the L2 cache.
//! - [`Batches`]: batch means keyed by the case's arrival number (32–64 batches, the batch size
//!   doubling as cases arrive), for a confidence interval from a single replication and for
//!   pairing two scenarios run with common random numbers.
//! - [`Tally`]: count, sum, max, a histogram and batches of one per-case quantity.
//! - [`Summary`]: mean, p50/p90/p95/p99, max and a 95 % confidence interval of the mean.

use serde::Serialize;

const SUB_BITS: u32 = 8;
const SCALE: f64 = 64.0;
const MAX_SHIFT: u32 = 20;
const BUCKETS: usize = ((MAX_SHIFT as usize) + 2) << SUB_BITS;

/// A log-linear histogram of non-negative values (HDR style).
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: Vec<u32>,
    total: u64,
}

fn bucket_of(x: f64) -> usize {
    // Through i64 (one instruction): values beyond 2^63 saturate, to the last bucket all the same.
    let n = (x.max(0.0) * SCALE) as i64 as u64;
    if n < (1 << (SUB_BITS + 1)) {
        return n as usize;
    }
    let e = 63 - n.leading_zeros();
    let shift = e - SUB_BITS;
    if shift > MAX_SHIFT {
        // Beyond about ten years: the last bucket (the exact maximum is tracked by `Tally`).
        return BUCKETS - 1;
    }
    let m = (n >> shift) as usize;
    ((shift as usize) << SUB_BITS) + m
}

/// Lower bound and width of a bucket, in value units.
fn bucket_range(b: usize) -> (f64, f64) {
    let sub = 1usize << SUB_BITS;
    if b < 2 * sub {
        return (b as f64 / SCALE, 1.0 / SCALE);
    }
    let shift = (b >> SUB_BITS) - 1;
    let m = (b & (sub - 1)) + sub;
    let low = ((m as u64) << shift) as f64 / SCALE;
    (low, (1u64 << shift) as f64 / SCALE)
}

impl Histogram {
    /// Records one value.
    #[inline]
    pub fn record(&mut self, x: f64) {
        if self.counts.is_empty() {
            self.allocate();
        }
        let b = bucket_of(x);
        self.counts[b] = self.counts[b].saturating_add(1);
        self.total += 1;
    }

    #[cold]
    #[inline(never)]
    fn allocate(&mut self) {
        self.counts = vec![0; BUCKETS];
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            // Saturates only beyond four billion observations in one bucket.
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (0 ≤ q ≤ 1), interpolated inside its bucket; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.total as f64).max(0.5);
        let mut seen = 0u64;
        for (b, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let c = u64::from(c);
            if (seen + c) as f64 >= rank {
                if b == 0 {
                    return Some(0.0);
                }
                let (low, width) = bucket_range(b);
                let within = ((rank - seen as f64) / c as f64).clamp(0.0, 1.0);
                return Some(low + width * within);
            }
            seen += c;
        }
        let last = self.counts.iter().rposition(|&c| c > 0).expect("total > 0");
        let (low, width) = bucket_range(last);
        Some(low + width)
    }

    /// Fraction of values ≤ `x` (for CDF charts).
    pub fn cdf_at(&self, x: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let b = bucket_of(x);
        self.counts[..=b.min(self.counts.len() - 1)].iter().map(|&c| u64::from(c)).sum::<u64>() as f64
            / self.total as f64
    }

    /// Count of values in `[from, to)` (approximate at bucket edges), for histogram charts.
    pub fn count_between(&self, from: f64, to: f64) -> u64 {
        if self.total == 0 || to <= from {
            return 0;
        }
        let (a, b) = (bucket_of(from), bucket_of(to));
        if b == a {
            return 0;
        }
        self.counts[a..b.min(self.counts.len())].iter().map(|&c| u64::from(c)).sum()
    }
}

/// Maximum number of batches kept before neighbours are merged.
pub const MAX_BATCHES: usize = 64;

/// Batch means keyed by arrival number: batch `i` holds the cases whose arrival number `n`
/// satisfies `n >> shift == i`.
#[derive(Debug, Clone, Default)]
pub struct Batches {
    shift: u32,
    sums: Vec<(f64, u64)>,
}

impl Batches {
    /// Records value `x` of the case with arrival number `index`.
    #[inline]
    pub fn record(&mut self, index: u64, x: f64) {
        let b = (index >> self.shift) as usize;
        match self.sums.get_mut(b) {
            Some(sum) => {
                sum.0 += x;
                sum.1 += 1;
            }
            None => self.record_growing(index, x),
        }
    }

    /// [`Batches::record`] for a batch not yet in `sums`: coarsens while the batch index is
    /// too large, then extends `sums`.
    #[cold]
    #[inline(never)]
    fn record_growing(&mut self, index: u64, x: f64) {
        let mut b = (index >> self.shift) as usize;
        // Each coarsening halves the batch index; 64 halvings exhaust any u64.
        for _ in 0..64 {
            if b < MAX_BATCHES {
                break;
            }
            self.coarsen();
            b = (index >> self.shift) as usize;
        }
        if b >= self.sums.len() {
            self.sums.resize(b + 1, (0.0, 0));
        }
        self.sums[b].0 += x;
        self.sums[b].1 += 1;
    }

    fn coarsen(&mut self) {
        self.shift += 1;
        let merged = self.sums.chunks(2).map(|p| p.iter().fold((0.0, 0), |(s, n), (a, b)| (s + a, n + b))).collect();
        self.sums = merged;
    }

    /// Coarsens to at least `shift` (to pair two runs batch by batch).
    pub fn coarsen_to(&mut self, shift: u32) {
        while self.shift < shift {
            self.coarsen();
        }
    }

    /// Current shift (log2 of the batch size in arrivals).
    pub fn shift(&self) -> u32 {
        self.shift
    }

    /// `(sum, count)` of every batch, by batch index.
    pub fn sums(&self) -> &[(f64, u64)] {
        &self.sums
    }

    /// Batch means of non-empty batches, by batch index.
    pub fn means(&self) -> Vec<Option<f64>> {
        self.sums.iter().map(|&(s, n)| (n > 0).then(|| s / n as f64)).collect()
    }
}

/// One per-case quantity observed over a replication.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Largest observation.
    pub max: f64,
    /// Distribution (only when quantiles are wanted).
    pub hist: Option<Histogram>,
    /// Batch means by arrival number.
    pub batches: Batches,
}

impl Tally {
    /// A tally that keeps a histogram for quantiles.
    pub fn with_histogram() -> Tally {
        Tally { hist: Some(Histogram::default()), ..Tally::default() }
    }

    /// Records `x` for the case with arrival number `index`.
    pub fn record(&mut self, index: u64, x: f64) {
        self.count += 1;
        self.sum += x;
        if x > self.max {
            self.max = x;
        }
        if let Some(h) = &mut self.hist {
            h.record(x);
        }
        self.batches.record(index, x);
    }

    /// The tally `self` would be had every value recorded been 0: same count and batches
    /// (bit for bit what recording those zeros gives).
    pub(crate) fn zeros_like(&self) -> Tally {
        let hist = self.hist.as_ref().map(|h| {
            let mut zeros = Histogram::default();
            if !h.counts.is_empty() {
                zeros.counts = vec![0; BUCKETS];
                zeros.counts[bucket_of(0.0)] = u32::try_from(h.total).unwrap_or(u32::MAX);
                zeros.total = h.total;
            }
            zeros
        });
        let sums = self.batches.sums.iter().map(|&(_, n)| (0.0, n)).collect();
        Tally { count: self.count, sum: 0.0, max: 0.0, hist, batches: Batches { shift: self.batches.shift, sums } }
    }

    /// Mean, or `None` when nothing was recorded.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// One per-case quantity pooled over replications, folded in one replication at a time (in
/// replication order): what the reports need of every replication's [`Tally`] without keeping
/// the tallies. Its size grows by 16 bytes a replication (that replication's count and sum,
/// for the intervals and the paired comparisons), not by its histogram.
#[derive(Debug, Clone, Default)]
pub struct PooledTally {
    /// Largest observation of any replication (0 when none).
    pub max: f64,
    /// The distribution of every replication's observations, pooled.
    pub hist: Histogram,
    /// `(count, sum)` of each replication, in replication order.
    pub replications: Vec<(u64, f64)>,
    /// Batches of the first replication (for the interval of a single replication and for
    /// pairing two single replications).
    pub first_batches: Option<Batches>,
}

impl PooledTally {
    /// Folds in the next replication's tally.
    pub fn add(&mut self, tally: &Tally) {
        self.max = self.max.max(tally.max);
        if let Some(h) = &tally.hist {
            self.hist.merge(h);
        }
        if self.replications.is_empty() {
            self.first_batches = Some(tally.batches.clone());
        }
        self.replications.push((tally.count, tally.sum));
    }

    /// Observations, all replications.
    pub fn count(&self) -> u64 {
        self.replications.iter().map(|r| r.0).sum()
    }

    /// Sum of the observations, all replications.
    pub fn sum(&self) -> f64 {
        self.replications.iter().map(|r| r.1).sum()
    }

    /// Mean of each replication (`None` for a replication that observed nothing).
    pub fn replication_means(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.replications.iter().map(|&(n, s)| (n > 0).then(|| s / n as f64))
    }

    /// The mean and its standard error, one estimator: `None` when nothing was observed.
    ///
    /// - Two replications or more: the mean of the replication means and the Student-t
    ///   error over them. A replication that observed nothing has no mean and is left out
    ///   (of the mean and of the error); with a single replication left there is no error.
    /// - One replication: the mean of its observations, and the error of that ratio
    ///   (sum / count) over its batches of cases ([`ratio_error`]): the batch-means error,
    ///   weighted by the batches' counts so that an interval is centred on the mean even when
    ///   the batches hold different numbers of cases.
    pub fn estimate(&self) -> Option<Estimate> {
        if self.replications.len() >= 2 {
            let means: Vec<f64> = self.replication_means().flatten().collect();
            return mean_estimate(&means);
        }
        let count = self.count();
        if count == 0 {
            return None;
        }
        let mean = self.sum() / count as f64;
        Some(Estimate { value: mean, error: self.first_batches.as_ref().and_then(|b| ratio_error(b.sums(), mean)) })
    }
}

/// A point estimate with its standard error and the degrees of freedom of its Student-t
/// distribution: what an interval at any confidence level, and a test of "the true value is
/// 0" (for a difference), need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The estimate, the centre of every interval.
    pub value: f64,
    /// Standard error and degrees of freedom; `None` when there is too little data (one
    /// replication of a per-replication figure, one batch).
    pub error: Option<(f64, usize)>,
}

impl Estimate {
    /// The interval at confidence `level` (e.g. 0.95), centred on the value.
    pub fn ci(&self, level: f64) -> Option<[f64; 2]> {
        self.half_width(level).map(|h| [self.value - h, self.value + h])
    }

    /// Half the width of the interval at confidence `level`.
    pub fn half_width(&self, level: f64) -> Option<f64> {
        self.error.map(|(se, df)| t_quantile(0.5 + level / 2.0, df) * se)
    }

    /// Two-sided p-value of the hypothesis that the true value is 0 (Student t). A value
    /// known without error is 1 when it is 0, and 0 otherwise.
    pub fn p_value(&self) -> Option<f64> {
        let (se, df) = self.error?;
        if se == 0.0 || !se.is_finite() {
            return Some(if self.value == 0.0 { 1.0 } else { 0.0 });
        }
        let t = (self.value / se).abs();
        Some((2.0 * (1.0 - t_cdf(t, df))).clamp(0.0, 1.0))
    }
}

/// The standard error (and degrees of freedom) of a ratio estimator `centre = Σ sum / Σ count`
/// over groups `(sum, count)` (batches of one replication), by the delta method: the variance
/// of the ratio is `n / (n − 1) · Σ (sum − centre · count)² / (Σ count)²` over the `n`
/// non-empty groups, with `n − 1` degrees of freedom. With groups of equal counts this is the
/// usual error of the mean of the group means. `None` with fewer than two non-empty groups.
pub fn ratio_error(groups: &[(f64, u64)], centre: f64) -> Option<(f64, usize)> {
    let groups: Vec<(f64, f64)> = groups.iter().filter(|g| g.1 > 0).map(|&(s, c)| (s, c as f64)).collect();
    let n = groups.len();
    if n < 2 {
        return None;
    }
    let total: f64 = groups.iter().map(|g| g.1).sum();
    let squares: f64 = groups.iter().map(|&(s, c)| ((s - centre * c) / total).powi(2)).sum();
    Some(((squares * n as f64 / (n - 1) as f64).sqrt(), n - 1))
}

/// The standard error of the difference `b − a` of two ratio estimators over paired groups
/// (batches with the same arrival numbers in two runs): [`ratio_error`] of the paired
/// residuals, over the groups where either run observed something. `means` are the two
/// ratios `(a, b)`.
pub fn paired_ratio_error(a: &[(f64, u64)], b: &[(f64, u64)], means: (f64, f64)) -> Option<(f64, usize)> {
    let total = |g: &[(f64, u64)]| g.iter().map(|x| x.1 as f64).sum::<f64>();
    let (ta, tb) = (total(a), total(b));
    if ta == 0.0 || tb == 0.0 {
        return None;
    }
    let empty = (0.0, 0);
    let residuals: Vec<f64> = (0..a.len().max(b.len()))
        .map(|i| (*a.get(i).unwrap_or(&empty), *b.get(i).unwrap_or(&empty)))
        .filter(|(x, y)| x.1 > 0 || y.1 > 0)
        .map(|(x, y)| (y.0 - means.1 * y.1 as f64) / tb - (x.0 - means.0 * x.1 as f64) / ta)
        .collect();
    let n = residuals.len();
    if n < 2 {
        return None;
    }
    let squares: f64 = residuals.iter().map(|e| e * e).sum();
    Some(((squares * n as f64 / (n - 1) as f64).sqrt(), n - 1))
}

/// Summary statistics of one KPI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Observations (all replications; the percentiles and the maximum are of these, pooled).
    pub count: u64,
    /// Mean: with several replications the mean of the replication means (those that
    /// observed something), else the mean of the observations; the centre of `ci`.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
    /// Confidence interval of the mean, at the report's `confidence`: across replications
    /// (t distribution over the replication means) when there are several, else from batches
    /// of cases within the one replication, weighted by their counts
    /// ([`PooledTally::estimate`]). `None` when there is too little data.
    pub ci: Option<[f64; 2]>,
}

impl Summary {
    /// Summarises a tally pooled over every replication: the count, percentiles and maximum
    /// of the pooled observations, the mean and its interval at confidence `level` from
    /// [`PooledTally::estimate`].
    pub fn of(tally: &PooledTally, level: f64) -> Option<Summary> {
        let count = tally.count();
        let estimate = tally.estimate()?;
        // Every tallied quantity (a duration, a number of trips) is ≥ 0, and so is its interval.
        let ci = estimate.ci(level).map(|[lo, hi]| [lo.max(0.0), hi]);
        let max = tally.max;
        let q = |p: f64| tally.hist.quantile(p).map(|v| v.min(max)).unwrap_or(f64::NAN);
        Some(Summary { count, mean: estimate.value, p50: q(0.5), p90: q(0.9), p95: q(0.95), p99: q(0.99), max, ci })
    }
}

/// The mean of a sample and its standard error (Student t, `n − 1` degrees of freedom);
/// `None` for an empty sample, no error for a single value.
pub fn mean_estimate(xs: &[f64]) -> Option<Estimate> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    // Summed from +0.0: an empty sum of floats is -0.0, which would print as "-0.0".
    let mean = xs.iter().fold(0.0, |sum, x| sum + x) / n as f64;
    if n < 2 {
        return Some(Estimate { value: mean, error: None });
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some(Estimate { value: mean, error: Some(((var / n as f64).sqrt(), n - 1)) })
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let series = G[1..].iter().enumerate().fold(G[0], |s, (i, g)| s + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// The regularised incomplete beta function `I_x(a, b)`, by its continued fraction (modified
/// Lentz), using the symmetry `I_x(a, b) = 1 − I_{1−x}(b, a)` where the fraction converges
/// slowly. At most 300 terms.
fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - beta_inc(b, a, 1.0 - x);
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp() / a;
    const TINY: f64 = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    d = if d.abs() < TINY { TINY } else { d };
    d = 1.0 / d;
    let mut f = d;
    for m in 1..300 {
        let m = f64::from(m);
        for numerator in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + numerator * d;
            d = if d.abs() < TINY { TINY } else { d };
            c = 1.0 + numerator / c;
            c = if c.abs() < TINY { TINY } else { c };
            d = 1.0 / d;
            f *= c * d;
        }
        if (c * d - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * f
}

/// The distribution function of Student's t with `df` degrees of freedom (`df` 0: the
/// degenerate 1/2 everywhere but ±∞).
pub fn t_cdf(t: f64, df: usize) -> f64 {
    if df == 0 || t.is_nan() {
        return 0.5;
    }
    let nu = df as f64;
    let tail = 0.5 * beta_inc(nu / 2.0, 0.5, nu / (nu + t * t));
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The `p`-quantile of Student's t with `df` degrees of freedom (`p` in (0, 1); `df` 0
/// gives ±∞), by bisection on [`t_cdf`] to a relative 1e-12.
pub fn t_quantile(p: f64, df: usize) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return if p >= 1.0 { f64::INFINITY } else { f64::NEG_INFINITY };
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    if df == 0 {
        return if p == 0.5 { 0.0 } else { f64::INFINITY };
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    // The 1 − 1e-12 quantile of t with 1 degree of freedom is about 3e11: 60 doublings bound it.
    for _ in 0..60 {
        if t_cdf(hi, df) >= p {
            break;
        }
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// A time-weighted level (queue length, busy servers, work in progress).
#[derive(Debug, Clone, Default)]
pub struct Level {
    /// Current level.
    pub level: u32,
    /// Highest level seen while measuring.
    pub max: u32,
    /// ∫ level dt since measuring began.
    pub area: f64,
    last: f64,
}

impl Level {
    /// Moves the clock to `t` (accumulating) and sets the new level.
    pub fn set(&mut self, t: f64, level: u32) {
        self.area += f64::from(self.level) * (t - self.last);
        self.last = t;
        self.level = level;
        if level > self.max {
            self.max = level;
        }
    }

    /// Accumulates up to `t` without changing the level.
    pub fn touch(&mut self, t: f64) {
        self.set(t, self.level);
    }

    /// Starts measuring at `t`: the area and the maximum restart.
    pub fn reset(&mut self, t: f64) {
        self.area = 0.0;
        self.last = t;
        self.max = self.level;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_bucket_precision() {
        let mut h = Histogram::default();
        let xs: Vec<f64> = (1..=100_000).map(|i| i as f64 * 0.37).collect();
        for &x in &xs {
            h.record(x);
        }
        for q in [0.5, 0.9, 0.95, 0.99] {
            let exact = xs[(q * xs.len() as f64) as usize - 1];
            let got = h.quantile(q).unwrap();
            assert!((got - exact).abs() <= 0.004 * exact, "q{q}: {got} vs {exact}");
        }
        assert!((h.cdf_at(18_500.0) - 0.5).abs() < 0.01);
        for b in 0..BUCKETS - 1 {
            let (low, width) = bucket_range(b);
            let (next, _) = bucket_range(b + 1);
            assert!((low + width - next).abs() < 1e-9, "bucket {b} is not contiguous");
            assert_eq!(bucket_of(low + width / 2.0), b);
        }
    }

    #[test]
    fn batches_coarsen_and_keep_the_total() {
        let mut b = Batches::default();
        for i in 0..10_000u64 {
            b.record(i, 1.0);
        }
        let means = b.means();
        assert!(means.len() <= MAX_BATCHES && means.len() >= MAX_BATCHES / 2, "{}", means.len());
        assert!(means.iter().flatten().all(|m| *m == 1.0));
        assert_eq!(b.sums.iter().map(|s| s.1).sum::<u64>(), 10_000);
    }

    #[test]
    fn zeros_like_is_recording_zeros() {
        let mut t = Tally::with_histogram();
        let mut zeros = Tally::with_histogram();
        assert_eq!(format!("{:?}", t.zeros_like()), format!("{zeros:?}"));
        for i in 0..5_000u64 {
            t.record(i, (i % 97) as f64 * 1.25);
            zeros.record(i, 0.0);
        }
        assert_eq!(format!("{:?}", t.zeros_like()), format!("{zeros:?}"));
        let plain = Tally::default();
        assert_eq!(format!("{:?}", plain.zeros_like()), format!("{:?}", Tally::default()));
    }

    /// Replications of very different sizes (a Days stop, a rare bundle): whatever the counts,
    /// the reported mean is the centre of its interval, and replications that observed nothing
    /// are left out rather than voiding the interval. Property-style: 300 random sets of
    /// replications, with counts from 0 to thousands and means that differ between
    /// replications.
    #[test]
    fn the_mean_lies_inside_its_interval_whatever_the_counts() {
        let mut rng = crate::random::Stream::new(20_260_105);
        for case in 0..300 {
            let replications = 2 + (rng.next_u64() % 12) as usize;
            let mut pooled = PooledTally::default();
            let mut observed = 0;
            for r in 0..replications {
                let mut tally = Tally::with_histogram();
                // Counts spread over three orders of magnitude, some replications empty.
                let count = match rng.next_u64() % 4 {
                    0 => 0,
                    1 => rng.next_u64() % 10,
                    2 => rng.next_u64() % 200,
                    _ => rng.next_u64() % 5_000,
                };
                let level = 10.0 + 200.0 * rng.uniform() + count as f64 * 0.05;
                for i in 0..count {
                    tally.record(i, level * rng.exp1());
                }
                observed += usize::from(count > 0);
                pooled.add(&tally);
                assert_eq!(pooled.replications.len(), r + 1);
            }
            let Some(summary) = Summary::of(&pooled, 0.95) else {
                assert_eq!(observed, 0, "case {case}: observations but no summary");
                continue;
            };
            match summary.ci {
                Some([lo, hi]) => {
                    assert!(
                        lo <= summary.mean && summary.mean <= hi,
                        "case {case}: {} outside [{lo}, {hi}]",
                        summary.mean
                    );
                    // Centred on the mean, unless clipped at 0 (a duration is never negative).
                    let centre = (lo + hi) / 2.0;
                    assert!(
                        lo == 0.0 || (centre - summary.mean).abs() <= 1e-9 * summary.mean.abs().max(1.0),
                        "case {case}"
                    );
                }
                None => assert!(observed < 2, "case {case}: {observed} replications observed, no interval"),
            }
        }
        // A constructed case: nine small replications near 10, one huge one at 20. The pooled
        // mean (about 19.9) lies far outside the interval of the replication means.
        let mut pooled = PooledTally::default();
        for r in 0..10u64 {
            let mut tally = Tally::with_histogram();
            let (count, value) = if r == 3 { (100_000, 20.0) } else { (10, 9.0 + (r % 3) as f64) };
            for i in 0..count {
                tally.record(i, value);
            }
            pooled.add(&tally);
        }
        let summary = Summary::of(&pooled, 0.95).expect("observations");
        let [lo, hi] = summary.ci.expect("ten replications");
        assert!(lo <= summary.mean && summary.mean <= hi && hi < 19.0, "{} in [{lo}, {hi}]", summary.mean);
        assert_eq!(summary.max, 20.0, "the maximum is the pooled one");
        assert_eq!(summary.p50, 20.0, "the percentiles are the pooled distribution's");
        assert_eq!(summary.count, 100_090);
    }

    /// One replication whose batches hold very different numbers of cases (every case of the
    /// first half of the arrivals at 1 minute, one case in 50 of the second half at 100): the
    /// interval over batches is weighted by their counts, so it is centred on the mean of the
    /// cases, not on the unweighted mean of the batch means (about 50).
    #[test]
    fn one_replication_interval_is_centred_on_its_mean() {
        let mut tally = Tally::with_histogram();
        for i in 0..64_000u64 {
            if i < 32_000 {
                tally.record(i, 1.0 + (i % 7) as f64 * 0.01);
            } else if i % 50 == 0 {
                tally.record(i, 100.0 + (i % 11) as f64);
            }
        }
        let mut pooled = PooledTally::default();
        pooled.add(&tally);
        let summary = Summary::of(&pooled, 0.95).expect("observations");
        assert_eq!(summary.mean, tally.sum / tally.count as f64, "one replication: the mean of its cases");
        let [lo, hi] = summary.ci.expect("batches give an interval");
        assert!(lo <= summary.mean && summary.mean <= hi && hi < 10.0, "{} in [{lo}, {hi}]", summary.mean);
        // With batches of equal counts the weighted interval is the usual batch-means one.
        let mut even = Tally::default();
        for i in 0..6_400u64 {
            even.record(i, (i % 13) as f64);
        }
        let means: Vec<f64> = even.batches.means().into_iter().flatten().collect();
        let usual = mean_estimate(&means).expect("batches");
        let mean = usual.value;
        let usual = usual.ci(0.95).expect("batches");
        let weighted =
            Estimate { value: mean, error: ratio_error(even.batches.sums(), mean) }.ci(0.95).expect("batches");
        assert!((weighted[0] - usual[0]).abs() < 1e-9 && (weighted[1] - usual[1]).abs() < 1e-9);
    }

    /// A duration's interval does not reach below 0, where no duration lies: here most cases
    /// wait 0 and a few wait long, in replications of very different luck.
    #[test]
    fn a_duration_interval_stays_above_zero() {
        let mut pooled = PooledTally::default();
        for waits in [&[0.0, 0.0, 0.0][..], &[0.0, 500.0], &[0.0, 0.0, 0.0, 0.0]] {
            let mut tally = Tally::with_histogram();
            for (i, &w) in waits.iter().enumerate() {
                tally.record(i as u64, w);
            }
            pooled.add(&tally);
        }
        let estimate = pooled.estimate().expect("observations");
        let (mean, ci) = (estimate.value, estimate.ci(0.95));
        let [lo, _] = ci.expect("three replications");
        assert!(lo < 0.0, "the t interval of the replication means reaches below 0: {lo}");
        let summary = Summary::of(&pooled, 0.95).expect("observations");
        assert_eq!(summary.mean, mean);
        assert_eq!(summary.ci.map(|[lo, _]| lo), Some(0.0));
    }

    #[test]
    fn t_quantiles() {
        // Reference values (R: qt): 12.7062, 2.2281, 2.0150, 5.8409, 2.0211, 1.9799, 1.9623.
        for (p, df, expected) in [
            (0.975, 1, 12.706_205),
            (0.975, 10, 2.228_139),
            (0.95, 5, 2.015_048),
            (0.995, 3, 5.840_909),
            (0.975, 40, 2.021_075),
            (0.975, 120, 1.979_930),
            (0.975, 1000, 1.962_339),
            (0.95, 2, 2.919_986),
        ] {
            let q = t_quantile(p, df);
            assert!((q - expected).abs() < 2e-6 * expected, "t({p}, {df}) = {q}, not {expected}");
            assert!((t_cdf(q, df) - p).abs() < 1e-9, "cdf(quantile) for {p}, {df}");
            assert!((t_quantile(1.0 - p, df) + q).abs() < 1e-9, "symmetry for {p}, {df}");
        }
        // A difference of exactly one t quantile's worth of standard errors has p = 1 − level.
        let at = Estimate { value: 2.228_139 * 0.5, error: Some((0.5, 10)) };
        assert!((at.p_value().unwrap() - 0.05).abs() < 1e-6, "{:?}", at.p_value());
        assert_eq!(Estimate { value: 0.0, error: Some((0.0, 4)) }.p_value(), Some(1.0));
        assert_eq!(Estimate { value: 0.5, error: Some((0.0, 4)) }.p_value(), Some(0.0));
        assert_eq!(Estimate { value: 0.5, error: None }.p_value(), None);
        let estimate = mean_estimate(&[1.0, 2.0, 3.0]).unwrap();
        let (m, ci) = (estimate.value, estimate.ci(0.95).unwrap());
        assert_eq!(m, 2.0);
        assert!((ci[1] - (2.0 + 4.302_653 / 3f64.sqrt())).abs() < 1e-5);
    }
}
