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

    /// The mean and its 95 % confidence interval, one estimator: `None` when nothing was
    /// observed.
    ///
    /// - Two replications or more: the mean of the replication means and the Student-t
    ///   interval over them. A replication that observed nothing has no mean and is left out
    ///   (of the mean and of the interval); with a single replication left there is no
    ///   interval.
    /// - One replication: the mean of its observations, and the interval of that ratio
    ///   (sum / count) over its batches of cases ([`ratio_ci`]): the batch-means interval,
    ///   weighted by the batches' counts so that it is centred on the mean even when the
    ///   batches hold different numbers of cases.
    pub fn estimate(&self) -> Option<(f64, Option<[f64; 2]>)> {
        if self.replications.len() >= 2 {
            let means: Vec<f64> = self.replication_means().flatten().collect();
            return match means.as_slice() {
                [] => None,
                [one] => Some((*one, None)),
                _ => mean_ci(&means).map(|(mean, ci)| (mean, Some(ci))),
            };
        }
        let count = self.count();
        if count == 0 {
            return None;
        }
        let mean = self.sum() / count as f64;
        Some((mean, self.first_batches.as_ref().and_then(|b| ratio_ci(b.sums(), mean))))
    }
}

/// The 95 % confidence interval of a ratio estimator `centre = Σ sum / Σ count` over groups
/// `(sum, count)` (batches of one replication), by the delta method: the variance of the
/// ratio is `n / (n − 1) · Σ (sum − centre · count)² / (Σ count)²` over the `n` non-empty
/// groups, with a Student-t quantile of `n − 1` degrees of freedom. With groups of equal counts
/// this is the usual t interval over the group means. `None` with fewer than two non-empty
/// groups.
pub fn ratio_ci(groups: &[(f64, u64)], centre: f64) -> Option<[f64; 2]> {
    let groups: Vec<(f64, f64)> = groups.iter().filter(|g| g.1 > 0).map(|&(s, c)| (s, c as f64)).collect();
    let n = groups.len();
    if n < 2 {
        return None;
    }
    let total: f64 = groups.iter().map(|g| g.1).sum();
    let squares: f64 = groups.iter().map(|&(s, c)| ((s - centre * c) / total).powi(2)).sum();
    let half = t975(n - 1) * (squares * n as f64 / (n - 1) as f64).sqrt();
    Some([centre - half, centre + half])
}

/// The 95 % confidence interval of the difference `b − a` of two ratio estimators over paired
/// groups (batches with the same arrival numbers in two runs with common random numbers):
/// [`ratio_ci`] of the paired residuals, over the groups where either run observed something.
/// `centre` is `b − a`, `means` the two ratios `(a, b)`.
pub fn paired_ratio_ci(a: &[(f64, u64)], b: &[(f64, u64)], means: (f64, f64)) -> Option<[f64; 2]> {
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
    let half = t975(n - 1) * (squares * n as f64 / (n - 1) as f64).sqrt();
    let centre = means.1 - means.0;
    Some([centre - half, centre + half])
}

/// Summary statistics of one KPI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Observations (all replications; the percentiles and the maximum are of these, pooled).
    pub count: u64,
    /// Mean: with several replications the mean of the replication means (those that
    /// observed something), else the mean of the observations; the centre of `ci95`.
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
    /// 95 % confidence interval of the mean: across replications (t distribution over the
    /// replication means) when there are several, else from batches of cases within the one
    /// replication, weighted by their counts ([`PooledTally::estimate`]). `None` when there
    /// is too little data.
    pub ci95: Option<[f64; 2]>,
}

impl Summary {
    /// Summarises a tally pooled over every replication: the count, percentiles and maximum
    /// of the pooled observations, the mean and its interval from [`PooledTally::estimate`].
    pub fn of(tally: &PooledTally) -> Option<Summary> {
        let count = tally.count();
        let (mean, ci95) = tally.estimate()?;
        // Every tallied quantity (a duration, a number of trips) is ≥ 0, and so is its interval.
        let ci95 = ci95.map(|[lo, hi]| [lo.max(0.0), hi]);
        let max = tally.max;
        let q = |p: f64| tally.hist.quantile(p).map(|v| v.min(max)).unwrap_or(f64::NAN);
        Some(Summary { count, mean, p50: q(0.5), p90: q(0.9), p95: q(0.95), p99: q(0.99), max, ci95 })
    }
}

/// Mean and 95 % t confidence interval of a sample; `None` with fewer than two values.
pub fn mean_ci(xs: &[f64]) -> Option<(f64, [f64; 2])> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n - 1) * (var / n as f64).sqrt();
    Some((mean, [mean - half, mean + half]))
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        // Beyond 30, the Cornish–Fisher expansion around the normal quantile is exact to 1e-3.
        _ => {
            let z: f64 = 1.959_964;
            let d = df as f64;
            z + (z.powi(3) + z) / (4.0 * d) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
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
            let Some(summary) = Summary::of(&pooled) else {
                assert_eq!(observed, 0, "case {case}: observations but no summary");
                continue;
            };
            match summary.ci95 {
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
        let summary = Summary::of(&pooled).expect("observations");
        let [lo, hi] = summary.ci95.expect("ten replications");
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
        let summary = Summary::of(&pooled).expect("observations");
        assert_eq!(summary.mean, tally.sum / tally.count as f64, "one replication: the mean of its cases");
        let [lo, hi] = summary.ci95.expect("batches give an interval");
        assert!(lo <= summary.mean && summary.mean <= hi && hi < 10.0, "{} in [{lo}, {hi}]", summary.mean);
        // With batches of equal counts the weighted interval is the usual batch-means one.
        let mut even = Tally::default();
        for i in 0..6_400u64 {
            even.record(i, (i % 13) as f64);
        }
        let means: Vec<f64> = even.batches.means().into_iter().flatten().collect();
        let (mean, usual) = mean_ci(&means).expect("batches");
        let weighted = ratio_ci(even.batches.sums(), mean).expect("batches");
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
        let (mean, ci) = pooled.estimate().expect("observations");
        let [lo, _] = ci.expect("three replications");
        assert!(lo < 0.0, "the t interval of the replication means reaches below 0: {lo}");
        let summary = Summary::of(&pooled).expect("observations");
        assert_eq!(summary.mean, mean);
        assert_eq!(summary.ci95.map(|[lo, _]| lo), Some(0.0));
    }

    #[test]
    fn t_quantiles() {
        assert_eq!(t975(1), 12.706);
        assert!((t975(40) - 2.021).abs() < 2e-3);
        assert!((t975(120) - 1.980).abs() < 2e-3);
        let (m, ci) = mean_ci(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(m, 2.0);
        assert!((ci[1] - (2.0 + 4.303 / 3f64.sqrt())).abs() < 1e-9);
    }
}
