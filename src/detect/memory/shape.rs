//! The shape of a floor series before its trend is believed: a level shift is not a trend,
//! a cycle is judged over whole cycles, and noise that follows itself (autocorrelated) carries
//! less information than its count of points suggests.
//!
//! Each is a small least-squares comparison or an autocorrelation, cheap enough to run per
//! container per backtest step (O(n²) at worst for n ≤ a few hundred buckets).

/// The best single change in level: the split that minimises the two-mean residual sum of
/// squares, with at least `min_side` points on each side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelShift {
    /// Index of the first point after the change.
    pub at: usize,
    /// Residual sum of squares around the two means.
    pub sse: f64,
}

pub fn best_level_shift(y: &[f64], min_side: usize) -> Option<LevelShift> {
    let n = y.len();
    if n < 2 * min_side.max(1) {
        return None;
    }
    let shift = y.iter().copied().sum::<f64>() / n as f64;
    let mut prefix = Vec::with_capacity(n + 1);
    let mut prefix_sq = Vec::with_capacity(n + 1);
    let (mut s, mut q) = (0.0, 0.0);
    prefix.push(0.0);
    prefix_sq.push(0.0);
    for &v in y {
        let v = v - shift;
        s += v;
        q += v * v;
        prefix.push(s);
        prefix_sq.push(q);
    }
    let sse = |from: usize, to: usize| {
        let m = (to - from) as f64;
        let sum = prefix[to] - prefix[from];
        (prefix_sq[to] - prefix_sq[from]) - sum * sum / m
    };
    (min_side.max(1)..=n - min_side.max(1))
        .map(|k| LevelShift {
            at: k,
            sse: sse(0, k) + sse(k, n),
        })
        .min_by(|a, b| a.sse.total_cmp(&b.sse))
}

/// The best "flat, then rising" fit: `y = a + b · max(0, x − x[k])` over the hinge index `k`
/// (at least `min_tail` points after it). Returns the hinge index and its residual sum of squares.
pub fn best_hinge(x: &[f64], y: &[f64], min_tail: usize) -> Option<(usize, f64)> {
    let n = x.len();
    if n < min_tail + 3 || n != y.len() {
        return None;
    }
    let my = y.iter().sum::<f64>() / n as f64;
    let syy: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let mut best: Option<(usize, f64)> = None;
    for k in 1..=n - min_tail {
        // The hinge regressor is zero before k: its sums run over the tail only.
        let hinge = |t: f64| (t - x[k]).max(0.0);
        let (mut sh, mut shh, mut shy0) = (0.0, 0.0, 0.0);
        for (&t, &v) in x[k..].iter().zip(&y[k..]) {
            let h = hinge(t);
            sh += h;
            shh += h * h;
            shy0 += h * (v - my);
        }
        // Centred: Σ(h − h̄)² = Σh² − (Σh)²/n, and Σ(h − h̄)(y − ȳ) = Σh(y − ȳ).
        let shh = shh - sh * sh / n as f64;
        let shy = shy0;
        if shh <= 0.0 || shy <= 0.0 {
            continue;
        }
        let sse = (syy - shy * shy / shh).max(0.0);
        if best.is_none_or(|(_, s)| sse < s) {
            best = Some((k, sse));
        }
    }
    best
}

/// Sample autocorrelation of `r` (already centred or nearly so) at `lag`.
pub fn autocorrelation(r: &[f64], lag: usize) -> f64 {
    let n = r.len();
    if lag >= n {
        return 0.0;
    }
    let mean = r.iter().sum::<f64>() / n as f64;
    let var: f64 = r.iter().map(|v| (v - mean).powi(2)).sum();
    if var <= 0.0 {
        return 0.0;
    }
    let cov: f64 = (lag..n).map(|i| (r[i] - mean) * (r[i - lag] - mean)).sum();
    cov / var
}

/// The factor by which a slope's standard error grows when the residuals follow an AR(1)
/// process with lag-1 autocorrelation `rho`: √((1 + ρ) / (1 − ρ)), the usual effective-sample
/// correction (n_eff = n (1 − ρ) / (1 + ρ)). Only positive autocorrelation widens; capped so
/// a near-unit root cannot make the interval infinite.
pub fn autocorrelation_inflation(rho: f64) -> f64 {
    let rho = rho.clamp(0.0, 0.9);
    ((1.0 + rho) / (1.0 - rho)).sqrt()
}

/// The dominant period of the detrended series, in points: the lag (≥ `min_lag`, ≤ n/2) of the
/// highest local maximum of the autocorrelation, if it reaches `min_correlation` and the lag
/// before it dips below it (a cycle, not slowly varying noise).
pub fn dominant_period(residuals: &[f64], min_lag: usize, min_correlation: f64) -> Option<usize> {
    let n = residuals.len();
    let max_lag = n / 2;
    if max_lag <= min_lag + 1 {
        return None;
    }
    let acf: Vec<f64> = (0..=max_lag + 1)
        .map(|lag| autocorrelation(residuals, lag))
        .collect();
    // A cycle's autocorrelation goes negative at half its period before peaking again.
    let first_negative = (1..=max_lag).find(|&l| acf[l] < 0.0)?;
    (first_negative.max(min_lag)..=max_lag)
        .filter(|&l| acf[l] >= acf[l - 1] && acf[l] >= acf[l + 1])
        .filter(|&l| acf[l] >= min_correlation)
        .max_by(|&a, &b| acf[a].total_cmp(&acf[b]))
}

/// How surely "flat, then rising from `x[k]`" beats a flat level: the one-sided p-value of
/// the hinge's slope (an F(1, n−2) test of the hinge model against the mean, its statistic
/// divided by the hinge residuals' AR(1) variance inflation), Bonferroni-corrected for the
/// `positions` hinge positions searched. A young leak that began a few buckets ago shows this
/// long before a rank test over the whole span can: the flat part's noise dilutes the ranks,
/// not the fit. `None` when the hinge does not rise.
pub fn hinge_rise_p_value(x: &[f64], y: &[f64], k: usize, positions: usize) -> Option<f64> {
    use statrs::distribution::{ContinuousCDF, FisherSnedecor};
    let n = x.len();
    if k >= n || n != y.len() || n < 5 {
        return None;
    }
    // The hinge model is a line in the hinge regressor max(0, x − x[k]).
    let h: Vec<f64> = x.iter().map(|t| (t - x[k]).max(0.0)).collect();
    let fit = crate::detect::stats::ols(&h, y)?;
    if fit.slope <= 0.0 {
        return None;
    }
    let residuals: Vec<f64> = h.iter().zip(y).map(|(a, b)| b - fit.predict(*a)).collect();
    let inflation = autocorrelation_inflation(autocorrelation(&residuals, 1));
    // F(1, n − 2) of one added regressor is its slope's t²; the inflation widens the slope's
    // standard error.
    let t = fit.slope / (fit.slope_std_error * inflation).max(f64::MIN_POSITIVE);
    let f = t * t;
    let dist = FisherSnedecor::new(1.0, n as f64 - 2.0).ok()?;
    Some((dist.sf(f) * positions.max(1) as f64).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear_sse(x: &[f64], y: &[f64]) -> Option<f64> {
        let fit = crate::detect::stats::ols(x, y)?;
        Some(fit.residual_std.powi(2) * (fit.n as f64 - 2.0))
    }

    fn noise(i: usize) -> f64 {
        // Deterministic, roughly uniform in [-1, 1): splitmix64 of the index.
        let mut z = (i as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        2.0 * (z >> 11) as f64 / (1u64 << 53) as f64 - 1.0
    }

    #[test]
    fn a_step_fits_a_step_better_than_a_line_and_a_ramp_worse() {
        let x: Vec<f64> = (0..60).map(|i| i as f64).collect();
        let step: Vec<f64> = (0..60)
            .map(|i| if i < 45 { 100.0 } else { 120.0 } + noise(i))
            .collect();
        let shift = best_level_shift(&step, 3).unwrap();
        assert_eq!(shift.at, 45);
        assert!(shift.sse < 0.5 * linear_sse(&x, &step).unwrap());
        let ramp: Vec<f64> = (0..60).map(|i| 100.0 + 0.5 * i as f64 + noise(i)).collect();
        let shift = best_level_shift(&ramp, 3).unwrap();
        assert!(shift.sse > 5.0 * linear_sse(&x, &ramp).unwrap());
    }

    #[test]
    fn a_hinge_is_found_where_the_rise_starts() {
        let x: Vec<f64> = (0..60).map(|i| i as f64).collect();
        let y: Vec<f64> = (0..60)
            .map(|i| 100.0 + 2.0 * (i as f64 - 40.0).max(0.0) + noise(i))
            .collect();
        let (k, sse) = best_hinge(&x, &y, 5).unwrap();
        assert!((38..=42).contains(&k), "{k}");
        assert!(sse < 0.2 * linear_sse(&x, &y).unwrap());
    }

    #[test]
    fn a_cycle_has_a_period_and_noise_has_none() {
        let wave: Vec<f64> = (0..180)
            .map(|i| (i as f64 * std::f64::consts::TAU / 60.0).sin() * 10.0 + noise(i))
            .collect();
        let p = dominant_period(&wave, 4, 0.3).unwrap();
        assert!((57..=63).contains(&p), "{p}");
        let white: Vec<f64> = (0..180).map(noise).collect();
        assert_eq!(dominant_period(&white, 4, 0.3), None);
    }

    #[test]
    fn autocorrelated_noise_widens_and_white_noise_does_not() {
        assert!((autocorrelation_inflation(0.0) - 1.0).abs() < 1e-12);
        assert!((autocorrelation_inflation(-0.5) - 1.0).abs() < 1e-12);
        assert!((autocorrelation_inflation(0.6) - 2.0).abs() < 1e-12);
    }
}
