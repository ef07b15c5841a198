//! Small, pure statistics helpers shared by the detectors.
//!
//! Every function here is total: degenerate input (empty, too short, constant, mismatched
//! lengths, zero totals) yields `None` or a documented neutral value instead of a panic.
//! Non-finite samples (NaN, ±∞) are dropped before computing; for paired data (`x`, `y`) the
//! whole pair is dropped. Nothing here allocates more than O(n) except the pairwise estimators,
//! whose cost is documented on each.
//!
//! Which test to reach for:
//! - a gauge drifting over a window (memory, disk, queue depth): [`theil_sen`] for a slope that
//!   shrugs off outliers, [`mann_kendall`] for "is there a monotonic trend at all",
//!   [`ols`] when the noise is well behaved and a t-based interval is wanted;
//!   [`forecast_crossing`] turns a slope into "time until the threshold".
//! - an error ratio rising (errors / requests): [`two_proportion_test`].
//! - a count of events rising over time (restarts, OOM kills, log errors per second):
//!   [`poisson_rate_increase`].
//! - robust summaries of a baseline: [`median`], [`quantile`], [`mad`].

use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal, StudentsT};
use std::cmp::Ordering;

/// Scale factor that makes the median absolute deviation a consistent estimator of the
/// standard deviation for normally distributed data (1 / Φ⁻¹(3/4)).
pub const MAD_NORMAL_SCALE: f64 = 1.4826;

/// Point count that sets [`theil_sen`]'s pair budget B = 400·399/2 = 79 800: every pair is
/// used while there are fewer than 2·B (up to 565 points), a balanced subset of ⅔·B to 2·B
/// pairs beyond that.
pub const THEIL_SEN_MAX_POINTS: usize = 400;

// ---------------------------------------------------------------------------------------------
// Small internal helpers
// ---------------------------------------------------------------------------------------------

/// The standard normal distribution (mean 0, sd 1); construction cannot fail.
fn standard_normal() -> Option<Normal> {
    Normal::new(0.0, 1.0).ok()
}

/// Upper-tail probability P(Z > z) of the standard normal. NaN maps to 1.0 (no evidence).
fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return 1.0;
    }
    standard_normal().map_or(1.0, |n| n.sf(z))
}

/// Two-sided critical value z with P(|Z| ≤ z) = `confidence`, for 0 < confidence < 1.
fn normal_two_sided_critical(confidence: f64) -> Option<f64> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    standard_normal().map(|n| n.inverse_cdf(0.5 + confidence / 2.0))
}

/// Keeps the (x, y) pairs where both are finite; `None` when the lengths differ.
fn finite_pairs(x: &[f64], y: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    if x.len() != y.len() {
        return None;
    }
    Some(
        x.iter()
            .zip(y)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(a, b)| (*a, *b))
            .unzip(),
    )
}

/// Finite values of `values`, in their original order.
fn finite_values(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

/// Sizes of the groups of exactly equal values (only groups of 2 or more are returned).
fn tie_group_sizes(values: &[f64]) -> Vec<usize> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut groups = Vec::new();
    let mut run = 1usize;
    for w in sorted.windows(2) {
        if w[0] == w[1] {
            run += 1;
        } else {
            if run > 1 {
                groups.push(run);
            }
            run = 1;
        }
    }
    if run > 1 {
        groups.push(run);
    }
    groups
}

/// Σ t(t−1)(2t+5) over tie groups: the tie term of the Mann–Kendall variance.
fn tie_variance_term(groups: &[usize]) -> f64 {
    groups
        .iter()
        .map(|&t| {
            let t = t as f64;
            t * (t - 1.0) * (2.0 * t + 5.0)
        })
        .sum()
}

/// Mann–Kendall variance of S without ties: n(n−1)(2n+5).
fn untied_variance_term(n: usize) -> f64 {
    let n = n as f64;
    n * (n - 1.0) * (2.0 * n + 5.0)
}

/// Arithmetic mean computed relative to the first element, which keeps full precision for
/// large offsets such as epoch seconds. Caller guarantees `values` is non-empty.
fn shifted_mean(values: &[f64]) -> f64 {
    let origin = values[0];
    let sum: f64 = values.iter().map(|v| v - origin).sum();
    origin + sum / values.len() as f64
}

/// Interval returned when the requested confidence is not in (0, 1): the point `estimate`
/// for confidence ≤ 0, and the uninformative (−∞, +∞) for confidence ≥ 1 or NaN, so that a
/// check such as `lower > 0.0` stays conservative.
fn degenerate_interval(confidence: f64, estimate: f64) -> (f64, f64) {
    if confidence <= 0.0 {
        (estimate, estimate)
    } else {
        (f64::NEG_INFINITY, f64::INFINITY)
    }
}

// ---------------------------------------------------------------------------------------------
// Ordinary least squares
// ---------------------------------------------------------------------------------------------

/// Result of an ordinary-least-squares line fit `y ≈ intercept + slope·x`.
///
/// `slope` is in y-units per x-unit (per second when x is epoch seconds). Prefer
/// [`LinearFit::predict`] over `intercept + slope * x` when x is large (epoch seconds): the
/// intercept is the value at x = 0, decades away, and loses precision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearFit {
    /// Least-squares slope, y-units per x-unit.
    pub slope: f64,
    /// Fitted value at x = 0.
    pub intercept: f64,
    /// Standard error of the slope, y-units per x-unit.
    pub slope_std_error: f64,
    /// Number of (finite) points used.
    pub n: usize,
    /// Residual standard deviation sqrt(SSE / (n − 2)), in y-units.
    pub residual_std: f64,
    /// Mean of the x values used.
    pub x_mean: f64,
    /// Mean of the y values used (the fitted value at `x_mean`).
    pub y_mean: f64,
    /// Coefficient of determination R² in [0, 1]; 0 when y is constant.
    pub r_squared: f64,
}

impl LinearFit {
    /// Fitted value at `x`, computed around the data's centre for precision.
    pub fn predict(&self, x: f64) -> f64 {
        self.y_mean + self.slope * (x - self.x_mean)
    }

    /// Two-sided confidence interval `(lower, upper)` for the slope from Student's t with
    /// n − 2 degrees of freedom, e.g. `confidence = 0.95`.
    ///
    /// Use `lower > 0` as "the slope is credibly positive". Confidence ≤ 0 gives the point
    /// slope; confidence ≥ 1 or NaN gives (−∞, +∞).
    pub fn slope_confidence_interval(&self, confidence: f64) -> (f64, f64) {
        if !(confidence > 0.0 && confidence < 1.0) {
            return degenerate_interval(confidence, self.slope);
        }
        let df = self.n.saturating_sub(2) as f64;
        let Ok(t) = StudentsT::new(0.0, 1.0, df) else {
            return (f64::NEG_INFINITY, f64::INFINITY);
        };
        let half_width = t.inverse_cdf(0.5 + confidence / 2.0) * self.slope_std_error;
        (self.slope - half_width, self.slope + half_width)
    }

    /// One-sided p-value for H1 "the slope is positive" (t-test, n − 2 degrees of freedom).
    /// A perfect fit (zero standard error) gives 0.0 for a positive slope and 1.0 otherwise.
    pub fn p_value_increasing(&self) -> f64 {
        if self.slope_std_error <= 0.0 {
            return if self.slope > 0.0 { 0.0 } else { 1.0 };
        }
        let df = self.n.saturating_sub(2) as f64;
        match StudentsT::new(0.0, 1.0, df) {
            Ok(t) => t.sf(self.slope / self.slope_std_error),
            Err(_) => 1.0,
        }
    }
}

/// Ordinary least-squares line through (x, y), with the slope's standard error.
///
/// Use when residuals are roughly normal and free of outliers; otherwise prefer
/// [`theil_sen`]. x is centred internally, so epoch seconds (~1.8e9) are fine.
///
/// Returns `None` when the lengths differ, fewer than 3 finite pairs remain, or x is
/// constant. A constant y yields slope 0 with zero standard error.
pub fn ols(x: &[f64], y: &[f64]) -> Option<LinearFit> {
    let (x, y) = finite_pairs(x, y)?;
    let n = x.len();
    if n < 3 {
        return None;
    }
    let x_mean = shifted_mean(&x);
    let y_mean = shifted_mean(&y);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (xi, yi) in x.iter().zip(&y) {
        let dx = xi - x_mean;
        let dy = yi - y_mean;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if !(sxx.is_finite() && sxx > 0.0) {
        return None;
    }
    let slope = sxy / sxx;
    let sse: f64 = x
        .iter()
        .zip(&y)
        .map(|(xi, yi)| {
            let r = yi - y_mean - slope * (xi - x_mean);
            r * r
        })
        .sum();
    let residual_std = (sse / (n - 2) as f64).sqrt();
    let r_squared = if syy > 0.0 {
        (1.0 - sse / syy).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Some(LinearFit {
        slope,
        intercept: y_mean - slope * x_mean,
        slope_std_error: residual_std / sxx.sqrt(),
        n,
        residual_std,
        x_mean,
        y_mean,
        r_squared,
    })
}

// ---------------------------------------------------------------------------------------------
// Theil–Sen
// ---------------------------------------------------------------------------------------------

/// Result of a Theil–Sen robust line fit: the median of pairwise slopes.
///
/// Holds the sorted pairwise slopes so that [`TheilSen::slope_confidence_interval`] can be
/// asked for any confidence (at most ~160 000 values, see [`THEIL_SEN_MAX_POINTS`]).
#[derive(Clone, PartialEq)]
pub struct TheilSen {
    /// Median pairwise slope, y-units per x-unit.
    pub slope: f64,
    /// Fitted value at x = 0: median(y − slope·x) (scipy's `method="joint"`).
    pub intercept: f64,
    /// Number of (finite) points used.
    pub n: usize,
    /// Number of pairwise slopes the median was taken over.
    pub pairs_used: usize,
    /// True when the pairs were subsampled because `n` exceeded the point cap.
    pub subsampled: bool,
    /// Median of the x values; [`TheilSen::predict`] works relative to it.
    x_ref: f64,
    /// Fitted value at `x_ref`.
    y_at_ref: f64,
    /// All sampled pairwise slopes, ascending.
    sorted_slopes: Vec<f64>,
    /// Number of pairs with distinct x in the full data set (N in Sen 1968).
    total_pairs: usize,
    /// Mann–Kendall variance of S with tie corrections for x and y (Sen 1968, eq. 2.6).
    s_variance: f64,
}

impl std::fmt::Debug for TheilSen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TheilSen")
            .field("slope", &self.slope)
            .field("intercept", &self.intercept)
            .field("n", &self.n)
            .field("pairs_used", &self.pairs_used)
            .field("subsampled", &self.subsampled)
            .finish_non_exhaustive()
    }
}

impl TheilSen {
    /// Fitted value at `x`, computed around the median x for precision with epoch seconds.
    pub fn predict(&self, x: f64) -> f64 {
        self.y_at_ref + self.slope * (x - self.x_ref)
    }

    /// Sen's (1968) distribution-free two-sided confidence interval `(lower, upper)` for the
    /// slope, e.g. `confidence = 0.95`; matches `scipy.stats.theilslopes(alpha=confidence)`.
    ///
    /// The ranks come from the normal approximation with the tie-corrected Mann–Kendall
    /// variance. When pairs were subsampled the same rank *fractions* are applied to the
    /// sampled slopes (an approximation). Confidence ≤ 0 gives the point slope;
    /// confidence ≥ 1 or NaN gives (−∞, +∞).
    pub fn slope_confidence_interval(&self, confidence: f64) -> (f64, f64) {
        let Some(z) = normal_two_sided_critical(confidence) else {
            return degenerate_interval(confidence, self.slope);
        };
        let m = self.sorted_slopes.len();
        if m == 0 || self.total_pairs == 0 {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let nt = self.total_pairs as f64;
        let spread = z * self.s_variance.max(0.0).sqrt();
        // Ranks into the full set of N slopes, rescaled to the sampled set (scale is exactly
        // 1 without subsampling, reproducing scipy's indices).
        let scale = m as f64 / nt;
        let lower_rank = (scale * (nt - spread) / 2.0).round_ties_even() - 1.0;
        let upper_rank = (scale * (nt + spread) / 2.0).round_ties_even();
        let last = (m - 1) as f64;
        let lower_idx = lower_rank.clamp(0.0, last) as usize;
        let upper_idx = upper_rank.clamp(0.0, last) as usize;
        (self.sorted_slopes[lower_idx], self.sorted_slopes[upper_idx])
    }
}

/// Theil–Sen robust slope: the median of the slopes between all pairs of points, with
/// intercept median(y − slope·x). Up to ~29% of the points can be outliers without moving
/// the estimate, so it suits noisy gauges with spikes.
///
/// Cost is O(n²) pairs up to about [`THEIL_SEN_MAX_POINTS`] points; above that a
/// deterministic, balanced subset of pairs keeps it between ~53 000 and ~160 000 slopes (see
/// [`theil_sen_with_max_points`]). Pairs with equal x are skipped; x need not be sorted.
///
/// Returns `None` when the lengths differ, fewer than 2 finite pairs remain, or every x is
/// equal. A constant y yields slope 0.
pub fn theil_sen(x: &[f64], y: &[f64]) -> Option<TheilSen> {
    theil_sen_with_max_points(x, y, THEIL_SEN_MAX_POINTS)
}

/// [`theil_sen`] with an explicit cap. With budget B = `max_points·(max_points−1)/2`, all
/// pairs are used while there are fewer than 2·B; otherwise a deterministic, balanced
/// 1-in-k subset of pairs (k odd, ≈ pairs / B) is used, keeping between about ⅔·B and 2·B
/// slopes. `usize::MAX` disables subsampling. On 450–2000-point series the subsampled slope stayed within ~0.2
/// standard errors of the full fit.
pub fn theil_sen_with_max_points(x: &[f64], y: &[f64], max_points: usize) -> Option<TheilSen> {
    let (x, y) = finite_pairs(x, y)?;
    let n = x.len();
    if n < 2 {
        return None;
    }
    let all_pairs = n * (n - 1) / 2;
    let budget = max_points.max(2).saturating_mul(max_points.max(2) - 1) / 2;
    // The odd stride nearest below all_pairs / budget (1 while under twice the budget), so
    // that between ~2/3 and 2 budgets' worth of pairs are kept; odd so that 2 is invertible
    // modulo the stride (see the sampling rule below).
    let stride = 2 * (all_pairs / budget / 2) + 1;

    let mut slopes = Vec::with_capacity(all_pairs / stride + n);
    // Keep the pairs (i, j), i < j, with (i + j) ≡ 0 (mod stride). Every point then takes
    // part in ~1/stride of its pairs and, with an odd stride, every lag class mod stride is
    // equally represented; a plain "every k-th pair in row-major order" sample is not
    // balanced this way and was measured to drift by ~1 standard error from the full fit.
    for i in 0..n {
        let first_j = i + 1;
        let offset = (stride - (i + first_j) % stride) % stride;
        let mut j = first_j + offset;
        while j < n {
            let dx = x[j] - x[i];
            if dx != 0.0 {
                let s = (y[j] - y[i]) / dx;
                if s.is_finite() {
                    slopes.push(s);
                }
            }
            j += stride;
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_unstable_by(f64::total_cmp);
    let slope = median_of_sorted(&slopes)?;

    let x_groups = tie_group_sizes(&x);
    let y_groups = tie_group_sizes(&y);
    let tied_x_pairs: usize = x_groups.iter().map(|t| t * (t - 1) / 2).sum();
    let s_variance =
        (untied_variance_term(n) - tie_variance_term(&x_groups) - tie_variance_term(&y_groups))
            / 18.0;

    let x_ref = median(&x)?;
    let residuals: Vec<f64> = x
        .iter()
        .zip(&y)
        .map(|(xi, yi)| yi - slope * (xi - x_ref))
        .collect();
    let y_at_ref = median(&residuals)?;

    Some(TheilSen {
        slope,
        intercept: y_at_ref - slope * x_ref,
        n,
        pairs_used: slopes.len(),
        subsampled: stride > 1,
        x_ref,
        y_at_ref,
        total_pairs: all_pairs - tied_x_pairs,
        s_variance,
        sorted_slopes: slopes,
    })
}

// ---------------------------------------------------------------------------------------------
// Mann–Kendall
// ---------------------------------------------------------------------------------------------

/// Result of the Mann–Kendall test for a monotonic trend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Number of (finite) points used.
    pub n: usize,
    /// Kendall's S: concordant minus discordant pairs against time.
    pub s: f64,
    /// Variance of S under H0, corrected for ties in the values.
    pub variance: f64,
    /// Continuity-corrected standard score: (S − 1)/σ for S > 0, (S + 1)/σ for S < 0, else 0.
    pub z: f64,
    /// Two-sided p-value for "any monotonic trend".
    pub p_two_sided: f64,
    /// One-sided p-value for H1 "increasing": P(Z ≥ z).
    pub p_increasing: f64,
    /// One-sided p-value for H1 "decreasing": P(Z ≤ z).
    pub p_decreasing: f64,
    /// Kendall's tau-b between the values and their time order, in [−1, 1] (equals
    /// `scipy.stats.kendalltau(range(n), y)`); 0 for a constant series.
    pub tau: f64,
}

/// Mann–Kendall test: is there a monotonic trend in `y` (samples in time order)?
///
/// Distribution-free and insensitive to outliers and to the trend's shape; use it to decide
/// *whether* a series trends, then [`theil_sen`] for *how fast*. Assumes independent samples:
/// strongly autocorrelated series give p-values that are too small. O(n²) comparisons.
///
/// Matches `pymannkendall.original_test`. Returns `None` when fewer than 4 finite values
/// remain. A constant series gives S = 0, z = 0 and all p-values 1.
pub fn mann_kendall(y: &[f64]) -> Option<MannKendall> {
    let y = finite_values(y);
    let n = y.len();
    if n < 4 {
        return None;
    }
    let mut s: i64 = 0;
    for i in 0..n - 1 {
        for j in i + 1..n {
            s += match y[j].partial_cmp(&y[i]) {
                Some(Ordering::Greater) => 1,
                Some(Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let s = s as f64;
    let ties = tie_group_sizes(&y);
    let variance = ((untied_variance_term(n) - tie_variance_term(&ties)) / 18.0).max(0.0);
    let sigma = variance.sqrt();
    let z = if sigma <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / sigma
    } else if s < 0.0 {
        (s + 1.0) / sigma
    } else {
        0.0
    };
    let (p_two_sided, p_increasing, p_decreasing) = if sigma <= 0.0 {
        (1.0, 1.0, 1.0)
    } else {
        let upper = normal_sf(z);
        let lower = normal_sf(-z);
        ((2.0 * normal_sf(z.abs())).min(1.0), upper, lower)
    };
    let n0 = (n * (n - 1) / 2) as f64;
    let tied_pairs: f64 = ties.iter().map(|&t| (t * (t - 1) / 2) as f64).sum();
    let denom = (n0 * (n0 - tied_pairs)).sqrt();
    let tau = if denom > 0.0 { s / denom } else { 0.0 };
    Some(MannKendall {
        n,
        s,
        variance,
        z,
        p_two_sided,
        p_increasing,
        p_decreasing,
        tau,
    })
}

// ---------------------------------------------------------------------------------------------
// Proportions and counts
// ---------------------------------------------------------------------------------------------

/// Result of [`two_proportion_test`]: is the recent error proportion higher than baseline?
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionTest {
    /// errors_baseline / total_baseline.
    pub baseline_proportion: f64,
    /// errors_recent / total_recent.
    pub recent_proportion: f64,
    /// (errors_baseline + errors_recent) / (total_baseline + total_recent).
    pub pooled_proportion: f64,
    /// Pooled z statistic; positive when recent > baseline, 0 when the pooled proportion is 0
    /// or 1 (no variation to test).
    pub z: f64,
    /// One-sided p-value from the normal approximation, P(Z ≥ z). Trust it once the expected
    /// error counts in both windows are at least ~5–10.
    pub p_value: f64,
    /// One-sided p-value from Fisher's exact test (conditional on the total error count;
    /// `scipy.stats.fisher_exact(alternative="greater")`). Valid for any counts; use it for
    /// small counts, where the normal approximation is anti-conservative.
    pub p_value_exact: f64,
}

/// One-sided two-proportion test that the recent error proportion exceeds the baseline's.
///
/// Returns both the pooled z-test (cheap, fine for large counts) and Fisher's exact test
/// (for small counts). Returns `None` when either total is 0 or errors exceed their total.
pub fn two_proportion_test(
    errors_baseline: u64,
    total_baseline: u64,
    errors_recent: u64,
    total_recent: u64,
) -> Option<ProportionTest> {
    if total_baseline == 0
        || total_recent == 0
        || errors_baseline > total_baseline
        || errors_recent > total_recent
    {
        return None;
    }
    let (e1, n1) = (errors_baseline as f64, total_baseline as f64);
    let (e2, n2) = (errors_recent as f64, total_recent as f64);
    let baseline_proportion = e1 / n1;
    let recent_proportion = e2 / n2;
    let pooled_proportion = (e1 + e2) / (n1 + n2);
    let se = (pooled_proportion * (1.0 - pooled_proportion) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let z = if se > 0.0 {
        (recent_proportion - baseline_proportion) / se
    } else {
        0.0
    };
    let p_value = if se > 0.0 { normal_sf(z) } else { 1.0 };
    let p_value_exact = hypergeometric_upper_tail(
        errors_recent,
        total_baseline + total_recent,
        errors_baseline + errors_recent,
        total_recent,
    );
    Some(ProportionTest {
        baseline_proportion,
        recent_proportion,
        pooled_proportion,
        z,
        p_value,
        p_value_exact,
    })
}

/// P(X ≥ k) for X ~ Binomial(n, p): the exact one-sided p-value of seeing at least `k`
/// events in `n` trials when each has probability `p` (e.g. errors in a small window
/// against a known error rate).
///
/// k = 0 gives 1.0, k > n gives 0.0. p outside [0, 1] is clamped; NaN p gives 1.0.
pub fn binomial_upper_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 || p.is_nan() {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let p = p.clamp(0.0, 1.0);
    if p == 0.0 {
        return 0.0;
    }
    if p == 1.0 {
        return 1.0;
    }
    match Binomial::new(p, n) {
        // P(X ≥ k) = P(X > k − 1).
        Ok(b) => b.sf(k - 1).clamp(0.0, 1.0),
        Err(_) => 1.0,
    }
}

/// P(X ≥ k) for X ~ Hypergeometric(population, successes, draws): the one-sided Fisher
/// exact p-value. Sums the probability mass outward from the nearer end with the pmf ratio
/// recurrence and stops once terms are negligible, so cost grows with the spread of the
/// distribution, not with the counts.
fn hypergeometric_upper_tail(k: u64, population: u64, successes: u64, draws: u64) -> f64 {
    if successes > population || draws > population {
        return 1.0;
    }
    let lo = (draws + successes).saturating_sub(population);
    let hi = successes.min(draws);
    if k <= lo {
        return 1.0;
    }
    if k > hi {
        return 0.0;
    }
    let ln_pmf = |i: u64| -> f64 {
        use statrs::function::factorial::ln_binomial;
        ln_binomial(successes, i) + ln_binomial(population - successes, draws - i)
            - ln_binomial(population, draws)
    };
    // pmf(i + 1) / pmf(i)
    let ratio_up = |i: u64| -> f64 {
        let (kk, nn, dd, ii) = (successes as f64, population as f64, draws as f64, i as f64);
        (kk - ii) * (dd - ii) / ((ii + 1.0) * (nn - kk - dd + ii + 1.0))
    };
    let mode = ((draws as f64 + 1.0) * (successes as f64 + 1.0) / (population as f64 + 2.0)).floor()
        as u64;
    const NEGLIGIBLE: f64 = 1e-17;
    if k > mode {
        // Terms decrease from k upward: sum the upper tail directly.
        let mut term = ln_pmf(k).exp();
        let mut total = term;
        let mut i = k;
        while i < hi && term > NEGLIGIBLE * total {
            term *= ratio_up(i);
            total += term;
            i += 1;
        }
        total.clamp(0.0, 1.0)
    } else {
        // Terms decrease from k − 1 downward: sum the lower tail and take the complement.
        let mut term = ln_pmf(k - 1).exp();
        let mut total = term;
        let mut i = k - 1;
        while i > lo && term > NEGLIGIBLE * total {
            // pmf(i − 1) = pmf(i) / ratio_up(i − 1)
            let r = ratio_up(i - 1);
            if r <= 0.0 {
                break;
            }
            term /= r;
            total += term;
            i -= 1;
        }
        (1.0 - total).clamp(0.0, 1.0)
    }
}

/// Result of [`poisson_rate_increase`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateTest {
    /// count_baseline / exposure_baseline (events per exposure unit, e.g. per second).
    pub baseline_rate: f64,
    /// count_recent / exposure_recent (events per exposure unit).
    pub recent_rate: f64,
    /// recent_rate / baseline_rate with 0.5 added to the baseline count, so a zero baseline
    /// still gives a finite ratio.
    pub rate_ratio: f64,
    /// Exact one-sided p-value for H1 "the recent rate is higher".
    pub p_value: f64,
}

/// Conditional exact test that the recent event rate exceeds the baseline rate.
///
/// Use for event counts (restarts, OOM kills, error log lines) observed over two windows of
/// possibly different lengths. Given N = c1 + c2, under H0 (equal rates) the recent count is
/// Binomial(N, e2 / (e1 + e2)); the p-value is P(X ≥ c2). Exposures share any unit (seconds,
/// pod-seconds); rates are per that unit.
///
/// Returns `None` when an exposure is not finite and positive. No recent events give p = 1.
pub fn poisson_rate_increase(
    count_baseline: u64,
    exposure_baseline: f64,
    count_recent: u64,
    exposure_recent: f64,
) -> Option<RateTest> {
    let valid = |e: f64| e.is_finite() && e > 0.0;
    if !valid(exposure_baseline) || !valid(exposure_recent) {
        return None;
    }
    let baseline_rate = count_baseline as f64 / exposure_baseline;
    let recent_rate = count_recent as f64 / exposure_recent;
    let rate_ratio = recent_rate / ((count_baseline as f64 + 0.5) / exposure_baseline);
    let share_recent = exposure_recent / (exposure_baseline + exposure_recent);
    let p_value = binomial_upper_tail(
        count_recent,
        count_baseline.saturating_add(count_recent),
        share_recent,
    );
    Some(RateTest {
        baseline_rate,
        recent_rate,
        rate_ratio,
        p_value,
    })
}

// ---------------------------------------------------------------------------------------------
// Robust summaries
// ---------------------------------------------------------------------------------------------

/// Median of an ascending, non-empty slice.
fn median_of_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        sorted[n / 2]
    } else {
        sorted[n / 2 - 1] / 2.0 + sorted[n / 2] / 2.0
    })
}

/// Median of the finite values (mean of the middle two for an even count).
///
/// Takes a shared slice and works on a copy, so callers' data keep their order.
/// Returns `None` when no finite value remains.
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// The `q`-quantile (0 ≤ q ≤ 1) of the finite values, linearly interpolated between order
/// statistics (numpy's default, "type 7"): q = 0 is the minimum, q = 1 the maximum.
///
/// Returns `None` when no finite value remains or q is outside [0, 1] or NaN.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut v = finite_values(values);
    if v.is_empty() {
        return None;
    }
    let position = q * (v.len() - 1) as f64;
    let lower_idx = position.floor() as usize;
    let fraction = position - lower_idx as f64;
    let (_, lower, above) = v.select_nth_unstable_by(lower_idx, f64::total_cmp);
    let lower = *lower;
    if fraction == 0.0 || above.is_empty() {
        return Some(lower);
    }
    let upper = above.iter().copied().fold(f64::INFINITY, f64::min);
    Some(lower + (upper - lower) * fraction)
}

/// Median absolute deviation scaled by [`MAD_NORMAL_SCALE`], a robust estimate of the
/// standard deviation: outliers barely move it. Use it to put a baseline's spread on the
/// same scale as a standard deviation, e.g. a robust z-score (x − median) / mad.
///
/// Returns `None` when no finite value remains; a constant series gives 0.
pub fn mad(values: &[f64]) -> Option<f64> {
    let centre = median(values)?;
    let deviations: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| (v - centre).abs())
        .collect();
    median(&deviations).map(|m| m * MAD_NORMAL_SCALE)
}

// ---------------------------------------------------------------------------------------------
// Forecasting
// ---------------------------------------------------------------------------------------------

/// Seconds until a value growing linearly at `slope_per_s` (units per second) reaches
/// `threshold`, starting from `current_value`.
///
/// - already at or above the threshold: `Some(0.0)` (it has crossed; the caller decides
///   whether that is "now" or a different kind of finding);
/// - below and not rising (slope ≤ 0): `None` (never crosses);
/// - any input not finite: `None`.
///
/// For a falling signal with a floor (free disk space), negate all three arguments.
pub fn forecast_crossing(slope_per_s: f64, current_value: f64, threshold: f64) -> Option<f64> {
    if !slope_per_s.is_finite() || !current_value.is_finite() || !threshold.is_finite() {
        return None;
    }
    if current_value >= threshold {
        return Some(0.0);
    }
    if slope_per_s <= 0.0 {
        return None;
    }
    let seconds = (threshold - current_value) / slope_per_s;
    seconds.is_finite().then_some(seconds)
}

/// A forecast of when a rising series meets a threshold, with the range a person should plan
/// for: seconds from now, `earliest ≤ expected ≤ latest` (latest may be infinite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossingInterval {
    pub earliest_s: f64,
    pub expected_s: f64,
    pub latest_s: f64,
}

/// When `current_value` rising at `slope_per_s` meets `threshold`, bracketed by the slope's
/// confidence interval `(slope_low, slope_high)` and the series' noise: the earliest bound is
/// the steepest plausible slope starting from `noise` above the current value (a noise-high
/// excursion reaches the limit first), the latest the shallowest plausible slope from `noise`
/// below it. A lower slope bound ≤ 0 leaves the latest bound infinite (it may never cross).
/// `None` when the central forecast does not cross (see [`forecast_crossing`]).
pub fn forecast_crossing_interval(
    slope_per_s: f64,
    slope_low: f64,
    slope_high: f64,
    current_value: f64,
    noise: f64,
    threshold: f64,
) -> Option<CrossingInterval> {
    let expected_s = forecast_crossing(slope_per_s, current_value, threshold)?;
    let noise = if noise.is_finite() {
        noise.max(0.0)
    } else {
        0.0
    };
    let earliest_s = forecast_crossing(
        slope_high.max(slope_per_s),
        current_value + noise,
        threshold,
    )
    .unwrap_or(expected_s)
    .min(expected_s);
    let latest_s = forecast_crossing(slope_low.min(slope_per_s), current_value - noise, threshold)
        .unwrap_or(f64::INFINITY)
        .max(expected_s);
    Some(CrossingInterval {
        earliest_s,
        expected_s,
        latest_s,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn crossing_interval_brackets_the_expected_crossing() {
        // 100 to go at 1/s: expected 100 s; steepest 2/s from 110 → 45 s; shallowest 0.5/s
        // from 90 → 220 s.
        let i = forecast_crossing_interval(1.0, 0.5, 2.0, 100.0, 10.0, 200.0).unwrap();
        assert_eq!(i.expected_s, 100.0);
        assert_eq!(i.earliest_s, 45.0);
        assert_eq!(i.latest_s, 220.0);
        // A slope interval reaching zero: it may never cross.
        let open = forecast_crossing_interval(1.0, -0.1, 2.0, 100.0, 0.0, 200.0).unwrap();
        assert_eq!(open.latest_s, f64::INFINITY);
        assert_eq!(open.earliest_s, 50.0);
        assert!(forecast_crossing_interval(-1.0, -2.0, 0.5, 100.0, 0.0, 200.0).is_none());
    }

    use super::*;

    /// |a − b| ≤ tol · max(1, |b|).
    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    macro_rules! assert_close {
        ($a:expr, $b:expr, $tol:expr) => {{
            let (a, b): (f64, f64) = ($a, $b);
            assert!(
                close(a, b, $tol),
                "{} = {a:e}, expected {b:e}",
                stringify!($a)
            );
        }};
        ($a:expr, $b:expr) => {
            assert_close!($a, $b, 1e-9)
        };
    }

    /// Data set A: epoch-second x one minute apart, noisy linear y.
    fn dataset_a() -> (Vec<f64>, Vec<f64>) {
        let x = (0..20).map(|i| 1.8e9 + 60.0 * i as f64).collect();
        let y = vec![
            10.3, 10.1, 11.2, 11.0, 11.9, 12.4, 12.0, 13.1, 13.5, 13.2, 14.4, 14.1, 15.3, 15.0,
            15.8, 16.6, 16.1, 17.2, 17.0, 18.1,
        ];
        (x, y)
    }

    /// Data set B: small integers with ties in both x and y.
    fn dataset_b() -> (Vec<f64>, Vec<f64>) {
        let x = vec![
            1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 10.0, 11.0,
        ];
        let y = vec![
            3.0, 4.0, 4.0, 4.0, 6.0, 5.0, 7.0, 7.0, 8.0, 8.0, 8.0, 10.0, 9.0, 12.0, 12.0,
        ];
        (x, y)
    }

    // ----- OLS ---------------------------------------------------------------------------

    #[test]
    fn ols_matches_scipy_linregress_with_epoch_seconds() {
        // Reference: scipy 1.17.1 stats.linregress(x, y) and stats.t.ppf on data set A.
        let (x, y) = dataset_a();
        let fit = ols(&x, &y).unwrap();
        assert_eq!(fit.n, 20);
        assert_close!(fit.slope, 0.006755639097744362);
        assert_close!(fit.slope_std_error, 0.00023235807205963024, 1e-7);
        assert_close!(fit.r_squared, 0.9791500788885612, 1e-9);
        assert_close!(fit.residual_std, 0.35951733632905153, 1e-7);
        assert_close!(fit.intercept, -12160140.311654137, 1e-9);
        assert_close!(fit.predict(x[10]), 14.117669172932327, 1e-9);
        let (lo, hi) = fit.slope_confidence_interval(0.95);
        assert_close!(lo, 0.00626747290292637, 1e-7);
        assert_close!(hi, 0.007243805292562354, 1e-7);
        let (lo, hi) = fit.slope_confidence_interval(0.99);
        assert_close!(lo, 0.006086810218960409, 1e-7);
        assert_close!(hi, 0.007424467976528315, 1e-7);
        // scipy: stats.t.sf(slope / stderr, 18) = 6.971060484090716e-17
        let p = fit.p_value_increasing();
        assert!((p - 6.971060484090716e-17).abs() < 1e-18, "p = {p:e}");
    }

    #[test]
    fn ols_degenerate_inputs() {
        assert!(ols(&[], &[]).is_none());
        assert!(ols(&[1.0, 2.0], &[1.0, 2.0]).is_none(), "n < 3");
        assert!(
            ols(&[1.0, 2.0, 3.0], &[1.0, 2.0]).is_none(),
            "length mismatch"
        );
        assert!(
            ols(&[5.0; 4], &[1.0, 2.0, 3.0, 4.0]).is_none(),
            "constant x"
        );
        // NaN pairs are dropped, leaving too few points.
        assert!(ols(&[1.0, 2.0, f64::NAN], &[1.0, 2.0, 3.0]).is_none());

        let fit = ols(&[1.0, 2.0, 3.0, 4.0], &[7.0; 4]).unwrap();
        assert_eq!(fit.slope, 0.0);
        assert_eq!(fit.slope_std_error, 0.0);
        assert_eq!(fit.r_squared, 0.0);
        assert_eq!(fit.slope_confidence_interval(0.95), (0.0, 0.0));
        assert_eq!(fit.p_value_increasing(), 1.0);

        // Perfect line: zero error, positive slope is certain.
        let fit = ols(&[0.0, 1.0, 2.0, f64::NAN], &[1.0, 3.0, 5.0, 9.0]).unwrap();
        assert_eq!(fit.n, 3);
        assert_close!(fit.slope, 2.0);
        assert_eq!(fit.p_value_increasing(), 0.0);
        // Out-of-range confidence levels.
        let (lo, hi) = fit.slope_confidence_interval(f64::NAN);
        assert!(lo.is_infinite() && hi.is_infinite());
        assert_eq!(fit.slope_confidence_interval(0.0), (fit.slope, fit.slope));
    }

    // ----- Theil–Sen ---------------------------------------------------------------------

    #[test]
    fn theil_sen_matches_scipy_theilslopes() {
        // Reference: scipy 1.17.1 stats.theilslopes(y, x, alpha=c, method="joint"), data set A.
        let (x, y) = dataset_a();
        let ts = theil_sen(&x, &y).unwrap();
        assert!(!ts.subsampled);
        assert_eq!(ts.pairs_used, 190);
        assert_close!(ts.slope, 0.006775210084033615);
        assert_close!(ts.intercept, -12195367.900105046, 1e-9);
        let (lo, hi) = ts.slope_confidence_interval(0.95);
        assert_close!(lo, 0.006388888888888891);
        assert_close!(hi, 0.007272727272727274);
        let (lo, hi) = ts.slope_confidence_interval(0.90);
        assert_close!(lo, 0.006500000000000001);
        assert_close!(hi, 0.007083333333333334);
    }

    #[test]
    fn theil_sen_with_ties_matches_scipy() {
        // Reference: scipy 1.17.1 stats.theilslopes(y, x, alpha=0.95, method="joint"),
        // data set B (ties in x and y exercise Sen's variance correction).
        let (x, y) = dataset_b();
        let ts = theil_sen(&x, &y).unwrap();
        assert_close!(ts.slope, 0.8944444444444444);
        assert_close!(ts.intercept, 2.1611111111111114);
        let (lo, hi) = ts.slope_confidence_interval(0.95);
        assert_close!(lo, 0.6666666666666666);
        assert_close!(hi, 1.0);
        // Shuffling the points does not change the estimate.
        let mut order: Vec<usize> = (0..x.len()).rev().collect();
        order.swap(0, 7);
        let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
        let ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
        let shuffled = theil_sen(&xs, &ys).unwrap();
        assert_close!(shuffled.slope, ts.slope);
        assert_eq!(shuffled.slope_confidence_interval(0.95), (lo, hi));
    }

    #[test]
    fn theil_sen_ignores_outliers() {
        let x: Vec<f64> = (0..30).map(f64::from).collect();
        let mut y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        y[5] = 500.0;
        y[20] = -300.0;
        let ts = theil_sen(&x, &y).unwrap();
        assert_close!(ts.slope, 2.0);
        assert_close!(ts.intercept, 1.0);
        assert_close!(ts.predict(40.0), 81.0);
    }

    #[test]
    fn theil_sen_subsampling_stays_close_to_full() {
        // 1500 points: 1.1M pairs in full, 1 in 15 (~75k) when subsampled.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut noise = || {
            // xorshift64*, mapped to [-1, 1)
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            (r >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        };
        let x: Vec<f64> = (0..1500).map(|i| 1.8e9 + 30.0 * i as f64).collect();
        let y: Vec<f64> = (0..1500)
            .map(|i| 100.0 + 0.01 * 30.0 * i as f64 + 5.0 * noise())
            .collect();
        let sub = theil_sen(&x, &y).unwrap();
        assert!(sub.subsampled);
        assert!(
            sub.pairs_used <= 79_800 && sub.pairs_used > 70_000,
            "{}",
            sub.pairs_used
        );
        let full = theil_sen_with_max_points(&x, &y, usize::MAX).unwrap();
        assert!(!full.subsampled);
        assert_eq!(full.pairs_used, 1500 * 1499 / 2);
        // Reference for the full fit: scipy 1.17.1 stats.theilslopes(y, x, alpha=0.95) on the
        // same xorshift64* data regenerated in Python.
        assert_close!(full.slope, 0.01001096273966013);
        let (full_lo, full_hi) = full.slope_confidence_interval(0.95);
        assert_close!(full_lo, 0.009999696229045828);
        assert_close!(full_hi, 0.01002262628504551);
        // The subsampled fit must agree with the full one to well within the interval's
        // half-width (~1.1e-5 here).
        let (sub_lo, sub_hi) = sub.slope_confidence_interval(0.95);
        let half_width = (full_hi - full_lo) / 2.0;
        assert!((sub.slope - full.slope).abs() < 0.25 * half_width);
        assert!((sub_lo - full_lo).abs() < 0.25 * half_width);
        assert!((sub_hi - full_hi).abs() < 0.25 * half_width);
    }

    #[test]
    fn theil_sen_cap_boundary() {
        let line = |n: usize| -> (Vec<f64>, Vec<f64>) {
            let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let y = x.iter().map(|v| 3.0 * v - 2.0).collect();
            (x, y)
        };
        // 565 points: 159 330 pairs < 2 · 79 800, all used.
        let (x, y) = line(565);
        let ts = theil_sen(&x, &y).unwrap();
        assert!(!ts.subsampled);
        assert_eq!(ts.pairs_used, 565 * 564 / 2);
        // 566 points: 159 895 pairs, 1 in 3 kept.
        let (x, y) = line(566);
        let ts = theil_sen(&x, &y).unwrap();
        assert!(ts.subsampled);
        assert!(
            (53_000..=54_000).contains(&ts.pairs_used),
            "{}",
            ts.pairs_used
        );
        assert_close!(ts.slope, 3.0);
        assert_close!(ts.intercept, -2.0);
        // A tiny cap still yields a fit.
        let (x, y) = line(10);
        let ts = theil_sen_with_max_points(&x, &y, 3).unwrap();
        assert!(ts.subsampled && ts.pairs_used >= 1);
        assert_close!(ts.slope, 3.0);
        assert_eq!(ts.slope_confidence_interval(0.95), (3.0, 3.0));
    }

    #[test]
    fn theil_sen_degenerate_inputs() {
        assert!(theil_sen(&[], &[]).is_none());
        assert!(theil_sen(&[1.0], &[1.0]).is_none());
        assert!(theil_sen(&[1.0, 2.0], &[1.0]).is_none());
        assert!(
            theil_sen(&[3.0; 5], &[1.0, 2.0, 3.0, 4.0, 5.0]).is_none(),
            "constant x"
        );
        assert!(theil_sen(&[1.0, f64::NAN], &[1.0, 2.0]).is_none());
        let ts = theil_sen(&[1.0, 2.0, 3.0, 4.0, 5.0], &[4.0; 5]).unwrap();
        assert_eq!(ts.slope, 0.0);
        assert_eq!(ts.intercept, 4.0);
        assert_eq!(ts.slope_confidence_interval(0.95), (0.0, 0.0));
        let two = theil_sen(&[0.0, 10.0], &[0.0, 5.0]).unwrap();
        assert_close!(two.slope, 0.5);
        let (lo, hi) = two.slope_confidence_interval(0.95);
        assert!(lo <= 0.5 && 0.5 <= hi);
        let _ = format!("{two:?}");
    }

    // ----- Mann–Kendall ------------------------------------------------------------------

    #[test]
    fn mann_kendall_matches_pymannkendall_without_ties() {
        // Reference: pymannkendall 1.4.3 original_test(y) for s, var_s, z, p;
        // scipy.stats.norm.sf(z) for p_increasing; scipy.stats.kendalltau(range(n), y) for tau.
        let (_, y) = dataset_a();
        let mk = mann_kendall(&y).unwrap();
        assert_eq!(mk.s, 174.0);
        assert_close!(mk.variance, 950.0);
        assert_close!(mk.z, 5.612861171124384);
        assert!((mk.p_two_sided - 1.990082609815147e-08).abs() < 1e-15);
        assert!((mk.p_increasing - 9.950413016120978e-09).abs() < 1e-15);
        assert_close!(mk.p_decreasing, 0.999999990049587);
        assert_close!(mk.tau, 0.9157894736842106);
    }

    #[test]
    fn mann_kendall_matches_pymannkendall_with_ties() {
        // Reference: as above, on data set B's y (ties) and a decreasing series with ties.
        let (_, y) = dataset_b();
        let mk = mann_kendall(&y).unwrap();
        assert_eq!(mk.s, 93.0);
        assert_close!(mk.variance, 399.0);
        assert_close!(mk.z, 4.605760803760182);
        assert!((mk.p_two_sided - 4.1096056344613885e-06).abs() < 1e-13);
        assert!((mk.p_increasing - 2.0548028172522445e-06).abs() < 1e-13);
        assert_close!(mk.tau, 0.9215150488583784);

        let y = [9.0, 9.0, 8.0, 9.0, 7.0, 7.0, 6.0, 8.0, 5.0, 5.0];
        let mk = mann_kendall(&y).unwrap();
        assert_eq!(mk.s, -31.0);
        assert_close!(mk.variance, 118.33333333333333);
        assert_close!(mk.z, -2.75783135866153);
        assert_close!(mk.p_two_sided, 0.005818620754684201);
        assert_close!(mk.p_increasing, 0.9970906896226579);
        assert_close!(mk.p_decreasing, 0.0029093103773421406);
        assert_close!(mk.tau, -0.7399853698407473);
    }

    #[test]
    fn mann_kendall_degenerate_inputs() {
        assert!(mann_kendall(&[]).is_none());
        assert!(mann_kendall(&[1.0, 2.0, 3.0]).is_none(), "n < 4");
        assert!(
            mann_kendall(&[1.0, 2.0, f64::NAN, 3.0]).is_none(),
            "NaN dropped leaves 3"
        );
        let mk = mann_kendall(&[2.5; 10]).unwrap();
        assert_eq!((mk.s, mk.variance, mk.z, mk.tau), (0.0, 0.0, 0.0, 0.0));
        assert_eq!(
            (mk.p_two_sided, mk.p_increasing, mk.p_decreasing),
            (1.0, 1.0, 1.0)
        );
        // NaN in the middle is skipped, order kept.
        let mk = mann_kendall(&[1.0, f64::NAN, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(mk.n, 4);
        assert_eq!(mk.s, 6.0);
        assert_close!(mk.tau, 1.0);
    }

    // ----- Proportions and counts --------------------------------------------------------

    #[test]
    fn two_proportion_test_matches_scipy() {
        // Reference: pooled z by hand with scipy.stats.norm.sf, and
        // scipy.stats.fisher_exact([[e2, n2-e2], [e1, n1-e1]], alternative="greater").
        let cases = [
            (
                50,
                10_000,
                80,
                10_000,
                2.639767288373333,
                0.00414814865394419,
                0.0052211487688413145,
            ),
            (
                3,
                1000,
                9,
                1000,
                1.7372704602080438,
                0.041169721530311454,
                0.07239304459230156,
            ),
            (
                120,
                100_000,
                30,
                20_000,
                1.096130410738925,
                0.13651085396066764,
                0.16157831702760336,
            ),
            (
                0,
                500,
                4,
                100,
                4.487118026965578,
                3.6096542655882978e-06,
                0.000733465037091028,
            ),
        ];
        for (e1, n1, e2, n2, z, p, p_exact) in cases {
            let t = two_proportion_test(e1, n1, e2, n2).unwrap();
            assert_close!(t.z, z);
            assert!(
                close(t.p_value, p, 1e-7),
                "{e1}/{n1} vs {e2}/{n2}: p {}",
                t.p_value
            );
            assert!(
                close(t.p_value_exact, p_exact, 1e-8),
                "{e1}/{n1} vs {e2}/{n2}: exact {} vs {p_exact}",
                t.p_value_exact
            );
        }
    }

    #[test]
    fn two_proportion_test_degenerate_inputs() {
        assert!(two_proportion_test(0, 0, 1, 10).is_none());
        assert!(two_proportion_test(1, 10, 0, 0).is_none());
        assert!(two_proportion_test(11, 10, 0, 10).is_none());
        assert!(two_proportion_test(0, 10, 11, 10).is_none());
        // No errors anywhere: nothing to test.
        let t = two_proportion_test(0, 1000, 0, 1000).unwrap();
        assert_eq!((t.z, t.p_value, t.p_value_exact), (0.0, 1.0, 1.0));
        // Everything an error: no variation either.
        let t = two_proportion_test(10, 10, 5, 5).unwrap();
        assert_eq!((t.z, t.p_value), (0.0, 1.0));
        assert_close!(t.p_value_exact, 1.0);
        // Recent lower than baseline: large p-values.
        let t = two_proportion_test(80, 1000, 2, 1000).unwrap();
        assert!(t.z < 0.0 && t.p_value > 0.99 && t.p_value_exact > 0.99);
        // Large totals stay fast and sane.
        let t = two_proportion_test(10_000, 10_000_000, 1_300, 1_000_000).unwrap();
        assert!(t.p_value_exact < 1e-10 && t.p_value < 1e-10);
    }

    #[test]
    fn binomial_upper_tail_matches_scipy() {
        // Reference: scipy.stats.binom.sf(k - 1, n, p) (= binomtest(..., "greater").pvalue).
        assert_close!(binomial_upper_tail(5, 20, 0.1), 0.04317449528446339);
        assert_close!(binomial_upper_tail(1, 10, 0.3), 0.9717524751);
        assert!((binomial_upper_tail(10, 10, 0.3) - 5.9048999999999975e-06).abs() < 1e-15);
        assert_close!(
            binomial_upper_tail(130, 10_000, 0.01),
            0.002175091348918592,
            1e-8
        );
        assert_close!(
            binomial_upper_tail(3, 1000, 0.0005),
            0.014359242305093839,
            1e-8
        );
        // Edges.
        assert_eq!(binomial_upper_tail(0, 10, 0.3), 1.0);
        assert_eq!(binomial_upper_tail(0, 0, 0.3), 1.0);
        assert_eq!(binomial_upper_tail(11, 10, 0.3), 0.0);
        assert_eq!(binomial_upper_tail(1, 10, 0.0), 0.0);
        assert_eq!(binomial_upper_tail(10, 10, 1.0), 1.0);
        assert_eq!(binomial_upper_tail(3, 10, f64::NAN), 1.0);
        assert_eq!(binomial_upper_tail(3, 10, -0.5), 0.0);
    }

    #[test]
    fn poisson_rate_increase_matches_scipy() {
        // Reference: scipy.stats.binom.sf(c2 - 1, c1 + c2, e2 / (e1 + e2)).
        let cases = [
            (
                20,
                3600.0,
                15,
                600.0,
                3.93322111351934e-05,
                4.390243902439025,
            ),
            (0, 3600.0, 3, 300.0, 0.0004551661356395085, 72.0),
            (100, 7200.0, 8, 600.0, 0.5961417004419103, 0.955223880597015),
            (5, 1000.0, 0, 100.0, 1.0, 0.0),
        ];
        for (c1, e1, c2, e2, p, ratio) in cases {
            let t = poisson_rate_increase(c1, e1, c2, e2).unwrap();
            assert!(
                close(t.p_value, p, 1e-8),
                "{c1}/{e1} vs {c2}/{e2}: {}",
                t.p_value
            );
            assert_close!(t.rate_ratio, ratio);
        }
        let t = poisson_rate_increase(20, 3600.0, 15, 600.0).unwrap();
        assert_close!(t.baseline_rate, 20.0 / 3600.0);
        assert_close!(t.recent_rate, 15.0 / 600.0);
    }

    #[test]
    fn poisson_rate_increase_degenerate_inputs() {
        assert!(poisson_rate_increase(1, 0.0, 1, 10.0).is_none());
        assert!(poisson_rate_increase(1, 10.0, 1, -1.0).is_none());
        assert!(poisson_rate_increase(1, f64::NAN, 1, 10.0).is_none());
        assert!(poisson_rate_increase(1, 10.0, 1, f64::INFINITY).is_none());
        let t = poisson_rate_increase(0, 10.0, 0, 10.0).unwrap();
        assert_eq!((t.p_value, t.rate_ratio, t.baseline_rate), (1.0, 0.0, 0.0));
    }

    // ----- Robust summaries --------------------------------------------------------------

    #[test]
    fn quantiles_and_mad_match_numpy() {
        // Reference: numpy.median / numpy.quantile (linear) and
        // scipy.stats.median_abs_deviation(v, scale=1/1.4826).
        let v = [3.5, 1.0, 7.25, 2.0, 9.0, 4.0, 4.0, 100.0];
        assert_eq!(median(&v), Some(4.0));
        assert_close!(quantile(&v, 0.1).unwrap(), 1.7000000000000002);
        assert_close!(quantile(&v, 0.9).unwrap(), 36.29999999999998);
        assert_close!(quantile(&v, 0.25).unwrap(), 3.125);
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_close!(mad(&v).unwrap(), 3.7064999999999997);
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        // NaN and infinities are ignored.
        assert_eq!(median(&[f64::NAN, 2.0, 1.0, f64::INFINITY, 3.0]), Some(2.0));
    }

    #[test]
    fn quantiles_degenerate_inputs() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, f64::NAN]), None);
        assert_eq!(quantile(&[1.0, 2.0], 1.5), None);
        assert_eq!(quantile(&[1.0, 2.0], -0.1), None);
        assert_eq!(quantile(&[1.0, 2.0], f64::NAN), None);
        assert_eq!(quantile(&[7.0], 0.3), Some(7.0));
        assert_eq!(mad(&[]), None);
        assert_eq!(mad(&[3.0; 6]), Some(0.0));
    }

    // ----- Forecasting -------------------------------------------------------------------

    #[test]
    fn forecast_crossing_cases() {
        assert_close!(forecast_crossing(0.5, 10.0, 20.0).unwrap(), 20.0);
        assert_eq!(forecast_crossing(0.5, 20.0, 20.0), Some(0.0));
        assert_eq!(forecast_crossing(-1.0, 25.0, 20.0), Some(0.0));
        assert_eq!(forecast_crossing(0.0, 10.0, 20.0), None);
        assert_eq!(forecast_crossing(-0.5, 10.0, 20.0), None);
        assert_eq!(forecast_crossing(f64::NAN, 10.0, 20.0), None);
        assert_eq!(forecast_crossing(1.0, f64::NAN, 20.0), None);
        assert_eq!(forecast_crossing(1.0, 10.0, f64::INFINITY), None);
        assert_eq!(forecast_crossing(f64::MIN_POSITIVE, -1e300, 1e300), None);
        // Falling signal toward a floor: negate everything.
        assert_close!(forecast_crossing(2.0, -100.0, -10.0).unwrap(), 45.0);
    }
}
