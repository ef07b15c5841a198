//! Curvature in a rising floor, for the forecast's interval.
//!
//! A straight line through a leak that slows down (concave: a cache filling, fragmentation
//! settling) forecasts the limit too early, and through one that speeds up too late; in both
//! cases the slope's own confidence interval is narrow because the line fits the recent span
//! well. Where a least-squares parabola shows curvature beyond what the noise explains, the
//! crossing times of its confidence band widen the interval, so the range a person plans for
//! holds the crossing whichever way the curve bends.

/// `y(u) = c0 + c1·u + c2·u²` with `u` in hours since the newest point, and the coefficients'
/// covariance (already widened for autocorrelated residuals).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parabola {
    /// Seconds since the epoch of the newest point (u = 0).
    origin_s: f64,
    coef: [f64; 3],
    cov: [[f64; 3]; 3],
}

const HOUR: f64 = 3600.0;

/// Least squares over (seconds since the epoch, value); `variance_inflation` multiplies the
/// covariance (the square of an AR(1) effective-sample factor). None with fewer than 6 points
/// or a degenerate design.
pub fn fit(xs: &[f64], ys: &[f64], variance_inflation: f64) -> Option<Parabola> {
    let n = xs.len();
    if n < 6 || ys.len() != n {
        return None;
    }
    let origin_s = xs[n - 1];
    // Normal equations in centred, hour-scaled time (well conditioned for spans of hours).
    let mut m = [[0.0f64; 3]; 3];
    let mut v = [0.0f64; 3];
    for (x, y) in xs.iter().zip(ys) {
        let u = (x - origin_s) / HOUR;
        let g = [1.0, u, u * u];
        for i in 0..3 {
            v[i] += g[i] * y;
            for j in 0..3 {
                m[i][j] += g[i] * g[j];
            }
        }
    }
    let inverse = invert(&m)?;
    let mut coef = [0.0; 3];
    for (i, c) in coef.iter_mut().enumerate() {
        *c = (0..3).map(|j| inverse[i][j] * v[j]).sum();
    }
    let sse: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| {
            let u = (x - origin_s) / HOUR;
            let r = y - (coef[0] + coef[1] * u + coef[2] * u * u);
            r * r
        })
        .sum();
    let sigma2 = sse / (n as f64 - 3.0) * variance_inflation.max(1.0);
    let mut cov = inverse;
    for row in &mut cov {
        for c in row.iter_mut() {
            *c *= sigma2;
        }
    }
    Some(Parabola {
        origin_s,
        coef,
        cov,
    })
}

impl Parabola {
    /// The curvature's z-score: how many standard errors the u² coefficient is from zero.
    pub fn curvature_z(&self) -> f64 {
        let se = self.cov[2][2].sqrt();
        if se > 0.0 {
            self.coef[2] / se
        } else {
            0.0
        }
    }

    fn at(&self, t_s: f64) -> (f64, f64) {
        let u = (t_s - self.origin_s) / HOUR;
        let g = [1.0, u, u * u];
        let mean = (0..3).map(|i| self.coef[i] * g[i]).sum();
        let var: f64 = (0..3)
            .map(|i| (0..3).map(|j| g[i] * self.cov[i][j] * g[j]).sum::<f64>())
            .sum();
        (mean, var.max(0.0).sqrt())
    }

    /// The fitted value at `t_s` (seconds since the epoch).
    pub fn value(&self, t_s: f64) -> f64 {
        self.at(t_s).0
    }

    /// When, counted from `now_s`, the band `mean ± (z·se + margin)` first reaches `target`:
    /// (upper band — the earliest plausible crossing, lower band — the latest). Each is None
    /// when that band stays below `target` up to `horizon_s`.
    pub fn band_crossings(
        &self,
        now_s: f64,
        target: f64,
        z: f64,
        margin: f64,
        horizon_s: f64,
        step_s: f64,
    ) -> (Option<f64>, Option<f64>) {
        let (mut earliest, mut latest) = (None, None);
        let steps = (horizon_s / step_s).ceil().max(0.0) as usize;
        for k in 0..=steps {
            let ahead = k as f64 * step_s;
            let (mean, se) = self.at(now_s + ahead);
            let spread = z * se + margin;
            if earliest.is_none() && mean + spread >= target {
                earliest = Some(ahead);
            }
            if mean - spread >= target {
                latest = Some(ahead);
                break;
            }
        }
        (earliest, latest)
    }
}

/// A rise that bends from its start: `y = a + b·g(t − start)` with `g` = a power below one
/// (slowing: fast at first, then levelling off; ½ is the square root) or `g` = square
/// (speeding up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bend {
    Slowing { power: f64 },
    Speeding,
}

/// The slowing bends tried for a forecast's latest bound, from the square root to nearly
/// straight. A rise that is still nearly straight rules out the square root long before it
/// rules out a gentler bend, and a concave rise (a cache filling toward its limit) keeps
/// slowing: the slowest bend its points cannot rule out is the latest course to plan for.
pub const SLOWING_POWERS: [f64; 5] = [0.5, 0.6, 0.7, 0.8, 0.9];

impl Bend {
    fn g(self, since_start_s: f64) -> f64 {
        let h = since_start_s.max(0.0) / HOUR;
        match self {
            Bend::Slowing { power } => h.powf(power),
            Bend::Speeding => h * h,
        }
    }

    /// Hours since the start at which `g` reaches `g_target` (≥ 0).
    fn inverse(self, g_target: f64) -> f64 {
        match self {
            Bend::Slowing { power } => g_target.powf(1.0 / power),
            Bend::Speeding => g_target.sqrt(),
        }
    }
}

/// When a bent rise that the points cannot tell apart from a straight one reaches `target`,
/// counted from `now_s`. The bent model has as many parameters as the line, so their residual
/// sums compare directly: it is rejected when `n_eff · ln(SSE_bent / SSE_line)` exceeds the
/// 95 % χ²(1) quantile, with `n_eff` the autocorrelation-discounted count of points. None when
/// rejected, when it does not rise, or when it stays below `target` within `horizon_s`.
/// The rising points a bend is fitted to.
pub struct Rise<'a> {
    pub xs: &'a [f64],
    pub ys: &'a [f64],
    /// Seconds since the epoch when the rise started (the bends' origin).
    pub start_s: f64,
    /// The square of the AR(1) effective-sample factor of the residuals.
    pub variance_inflation: f64,
}

pub fn plausible_bend_crossing(
    rise: &Rise,
    bend: Bend,
    now_s: f64,
    target: f64,
    horizon_s: f64,
) -> Option<f64> {
    let Rise {
        xs,
        ys,
        start_s,
        variance_inflation,
    } = *rise;
    let n = xs.len();
    if n < 6 {
        return None;
    }
    let gs: Vec<f64> = xs.iter().map(|x| bend.g(x - start_s)).collect();
    let bent = crate::detect::stats::ols(&gs, ys)?;
    let line = crate::detect::stats::ols(xs, ys)?;
    let sse = |fit: &crate::detect::stats::LinearFit| fit.residual_std.powi(2) * (n as f64 - 2.0);
    let (bent_sse, line_sse) = (sse(&bent), sse(&line));
    if bent.slope <= 0.0 || line_sse <= 0.0 {
        return None;
    }
    let n_eff = n as f64 / variance_inflation.max(1.0);
    if n_eff * (bent_sse / line_sse).ln() > CHI2_1_95 {
        return None;
    }
    // Invert y = intercept + slope·g for the crossing.
    let g_target = (target - bent.intercept) / bent.slope;
    if g_target < 0.0 {
        return Some(0.0);
    }
    let since_start_h = bend.inverse(g_target);
    let ahead = (start_s + since_start_h * HOUR - now_s).max(0.0);
    (ahead <= horizon_s).then_some(ahead)
}

/// The 95 % quantile of χ² with one degree of freedom.
const CHI2_1_95: f64 = 3.841;

/// The inverse of a symmetric 3×3 matrix by cofactors; None when it is (near) singular.
fn invert(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let c =
        |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    let cof = [
        [c(1, 2, 1, 2), -c(1, 2, 0, 2), c(1, 2, 0, 1)],
        [-c(0, 2, 1, 2), c(0, 2, 0, 2), -c(0, 2, 0, 1)],
        [c(0, 1, 1, 2), -c(0, 1, 0, 2), c(0, 1, 0, 1)],
    ];
    let det = m[0][0] * cof[0][0] + m[0][1] * cof[0][1] + m[0][2] * cof[0][2];
    let scale = m.iter().flatten().fold(0.0f64, |a, v| a.max(v.abs()));
    if !det.is_finite() || det.abs() <= 1e-12 * scale.powi(3) {
        return None;
    }
    // The adjugate is the cofactor matrix transposed.
    let mut inverse = [[0.0; 3]; 3];
    for (i, row) in inverse.iter_mut().enumerate() {
        for (j, value) in row.iter_mut().enumerate() {
            *value = cof[j][i] / det;
        }
    }
    Some(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(f: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        // One point a minute for an hour, ending at t = 1.7e9 s; a small deterministic wobble.
        let xs: Vec<f64> = (0..60).map(|i| 1.7e9 - 3540.0 + 60.0 * i as f64).collect();
        let ys = xs
            .iter()
            .enumerate()
            .map(|(i, x)| f((x - 1.7e9) / HOUR) + if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        (xs, ys)
    }

    #[test]
    fn recovers_a_parabola_and_its_curvature() {
        let (xs, ys) = series(|u| 500.0 + 100.0 * u - 40.0 * u * u);
        let p = fit(&xs, &ys, 1.0).unwrap();
        assert!((p.coef[0] - 500.0).abs() < 1.0, "{:?}", p.coef);
        assert!((p.coef[1] - 100.0).abs() < 2.0, "{:?}", p.coef);
        assert!((p.coef[2] + 40.0).abs() < 2.0, "{:?}", p.coef);
        assert!(p.curvature_z() < -10.0, "{}", p.curvature_z());
    }

    fn rise<'a>(xs: &'a [f64], ys: &'a [f64], start_s: f64) -> Rise<'a> {
        Rise {
            xs,
            ys,
            start_s,
            variance_inflation: 1.0,
        }
    }

    #[test]
    fn a_bend_the_points_cannot_rule_out_widens_and_one_they_rule_out_does_not() {
        // Half an hour of a rise that is still nearly straight, noisy: a slowing √ rise fits
        // about as well, and it reaches 1000 later than the line does.
        let xs: Vec<f64> = (0..30).map(|i| 1.7e9 - 1740.0 + 60.0 * i as f64).collect();
        let start = xs[0] - 60.0;
        let noisy: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(i, x)| 500.0 + 200.0 * (x - start) / HOUR + [25.0, -25.0, 12.0, -12.0][i % 4])
            .collect();
        let now = 1.7e9 + 30.0;
        let line_crossing = (1000.0 - (500.0 + 200.0 * (now - start) / HOUR)) / 200.0 * HOUR;
        let slowing = plausible_bend_crossing(
            &rise(&xs, &noisy, start),
            Bend::Slowing { power: 0.5 },
            now,
            1000.0,
            1e6,
        );
        assert!(
            slowing.is_some_and(|s| s > line_crossing),
            "{slowing:?} vs {line_crossing}"
        );
        // The same rise measured without noise over two hours: a √ shape is ruled out.
        let xs: Vec<f64> = (0..120).map(|i| 1.7e9 - 7140.0 + 60.0 * i as f64).collect();
        let start = xs[0] - 60.0;
        let exact: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(i, x)| 500.0 + 200.0 * (x - start) / HOUR + [0.5, -0.5][i % 2])
            .collect();
        assert_eq!(
            plausible_bend_crossing(
                &rise(&xs, &exact, start),
                Bend::Slowing { power: 0.5 },
                now,
                1000.0,
                1e6
            ),
            None
        );
    }

    #[test]
    fn a_gently_slowing_rise_rules_out_the_square_root_but_not_a_gentler_bend() {
        // The first 40 minutes of a cache filling toward its limit, `1 − (1 − u)²` over a
        // 4 h course: nearly straight, little noise. The square root is ruled out; a gentler
        // power is not, and it reaches the target later than the line through the points.
        let course_s = 4.0 * HOUR;
        let xs: Vec<f64> = (0..40).map(|i| 1.7e9 - 2340.0 + 60.0 * i as f64).collect();
        let start = xs[0] - 60.0;
        let ys: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let u = (x - start) / course_s;
                500.0 + 500.0 * (1.0 - (1.0 - u).powi(2)) + [2.0, -2.0, 1.0, -1.0][i % 4]
            })
            .collect();
        let now = 1.7e9 + 30.0;
        let line = crate::detect::stats::ols(&xs, &ys).unwrap();
        let line_crossing = (1000.0 - (line.intercept + line.slope * now)) / line.slope;
        let crossing = |power| {
            plausible_bend_crossing(
                &rise(&xs, &ys, start),
                Bend::Slowing { power },
                now,
                1000.0,
                1e6,
            )
        };
        assert_eq!(crossing(0.5), None, "the square root is ruled out");
        let gentlest = SLOWING_POWERS
            .iter()
            .filter_map(|&power| crossing(power))
            .fold(0.0, f64::max);
        assert!(
            gentlest > line_crossing,
            "slowest plausible crossing {gentlest} vs the line's {line_crossing}"
        );
    }

    #[test]
    fn a_straight_line_shows_no_significant_curvature() {
        let (xs, ys) = series(|u| 500.0 + 100.0 * u);
        let p = fit(&xs, &ys, 1.0).unwrap();
        assert!(p.curvature_z().abs() < 3.0, "{}", p.curvature_z());
    }

    #[test]
    fn a_slowing_rise_is_forecast_later_by_its_band_than_by_its_tangent() {
        // Concave: slope 100/h now, slowing by 20/h². The tangent reaches 600 in 1 h; the
        // parabola itself reaches it later (≈ 1.13 h), so the lower band's crossing is later
        // still, and the upper band's comes before the parabola's.
        let (xs, ys) = series(|u| 500.0 + 100.0 * u - 10.0 * u * u);
        let p = fit(&xs, &ys, 1.0).unwrap();
        let now = 1.7e9;
        let (earliest, latest) = p.band_crossings(now, 600.0, 1.96, 0.0, 6.0 * HOUR, 30.0);
        let (earliest, latest) = (earliest.unwrap(), latest.unwrap());
        assert!(
            earliest < 1.13 * HOUR && latest > 1.13 * HOUR,
            "{earliest} {latest}"
        );
        assert!(latest > 1.0 * HOUR);
        // A target beyond the parabola's top is never reached by its lower band.
        let (_, never) = p.band_crossings(now, 900.0, 1.96, 0.0, 6.0 * HOUR, 30.0);
        assert_eq!(never, None);
    }
}
