//! Paired significance and effect size of the planner against a baseline over the same cycles:
//! the Wilcoxon signed-rank test (two-sided, normal approximation with tie and continuity
//! correction, zero differences dropped as in Wilcoxon's original procedure) and the
//! Vargha–Delaney Â12 effect size.

use serde::{Deserialize, Serialize};

/// The Wilcoxon signed-rank test of paired samples `a[i]` against `b[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Wilcoxon {
    /// Pairs with a non-zero difference (the ones ranked).
    pub n: usize,
    /// Sum of the ranks of the positive differences (`a` above `b`).
    pub w_plus: f64,
    /// Sum of the ranks of the negative differences.
    pub w_minus: f64,
    /// Normal approximation of `w_plus`, standardised (positive: `a` tends to be larger).
    pub z: f64,
    /// Two-sided p-value (1 when no pair differs).
    pub p_value: f64,
}

/// Wilcoxon signed-rank test of `a` against `b` (same length, paired by index).
pub fn wilcoxon_signed_rank(a: &[f64], b: &[f64]) -> Wilcoxon {
    let mut diffs: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x - y)
        .filter(|d| d.abs() > 1e-12)
        .collect();
    let n = diffs.len();
    if n == 0 {
        return Wilcoxon {
            n,
            w_plus: 0.0,
            w_minus: 0.0,
            z: 0.0,
            p_value: 1.0,
        };
    }
    diffs.sort_by(|x, y| x.abs().total_cmp(&y.abs()));
    let (mut w_plus, mut w_minus, mut tie_term) = (0.0, 0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && (diffs[j + 1].abs() - diffs[i].abs()).abs() <= 1e-12 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0; // average of ranks i+1 ..= j+1
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for d in &diffs[i..=j] {
            if *d > 0.0 {
                w_plus += rank;
            } else {
                w_minus += rank;
            }
        }
        i = j + 1;
    }
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let variance = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
    let z = if variance > 0.0 {
        let diff = w_plus - mean;
        let corrected = (diff.abs() - 0.5).max(0.0) * diff.signum();
        corrected / variance.sqrt()
    } else {
        0.0
    };
    let p_value = erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0);
    Wilcoxon {
        n,
        w_plus,
        w_minus,
        z,
        p_value,
    }
}

/// Vargha–Delaney Â12: the chance that a value of `a` is larger than one of `b`, ties counting
/// half. 0.5 is no effect; 0.56 / 0.64 / 0.71 are the usual small / medium / large thresholds.
pub fn vargha_delaney_a12(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.5;
    }
    // Rank-sum form: A12 = (R_a / m - (m + 1) / 2) / n with average ranks over both samples.
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&y| (y, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut rank_sum_a = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_a += rank * all[i..=j].iter().filter(|(_, from_a)| *from_a).count() as f64;
        i = j + 1;
    }
    let (m, n) = (a.len() as f64, b.len() as f64);
    (rank_sum_a / m - (m + 1.0) / 2.0) / n
}

/// Complementary error function (Numerical Recipes' `erfcc`, fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilcoxon_matches_a_hand_computation() {
        // differences: +1, +2, -3, +4, +5, 0 (dropped) -> ranks 1, 2, 3, 4, 5;
        // W+ = 1 + 2 + 4 + 5 = 12, W- = 3, n = 5, mean 7.5, variance 5*6*11/24 = 13.75,
        // z = (12 - 7.5 - 0.5) / sqrt(13.75) = 1.0787, p = erfc(1.0787 / sqrt 2) = 0.2807
        let a = [1.0, 2.0, 0.0, 4.0, 5.0, 3.0];
        let b = [0.0, 0.0, 3.0, 0.0, 0.0, 3.0];
        let w = wilcoxon_signed_rank(&a, &b);
        assert_eq!(w.n, 5);
        assert_eq!((w.w_plus, w.w_minus), (12.0, 3.0));
        assert!((w.z - 1.078_720).abs() < 1e-5, "{w:?}");
        assert!((w.p_value - 0.280_7).abs() < 1e-3, "{w:?}");
        // ties share their average rank: |d| = 1, 1, 2 -> ranks 1.5, 1.5, 3
        let w = wilcoxon_signed_rank(&[1.0, 0.0, 2.0], &[0.0, 1.0, 0.0]);
        assert_eq!((w.w_plus, w.w_minus), (4.5, 1.5));
        // nothing differs: no evidence
        let w = wilcoxon_signed_rank(&[1.0, 2.0], &[1.0, 2.0]);
        assert_eq!((w.n, w.p_value), (0, 1.0));
    }

    #[test]
    fn a_consistent_win_is_significant() {
        let a: Vec<f64> = (0..40).map(|i| 0.8 + f64::from(i) * 0.001).collect();
        let b: Vec<f64> = (0..40).map(|i| 0.7 + f64::from(i) * 0.001).collect();
        let w = wilcoxon_signed_rank(&a, &b);
        assert!(w.p_value < 1e-6 && w.z > 0.0, "{w:?}");
    }

    #[test]
    fn a12_matches_a_hand_computation() {
        // pairs (a > b): 2>1, 3>1, 3>2, and 2=2 counts half: (3 + 0.5) / 6 = 0.5833
        let a12 = vargha_delaney_a12(&[2.0, 3.0], &[1.0, 2.0, 4.0]);
        assert!((a12 - 3.5 / 6.0).abs() < 1e-12, "{a12}");
        assert_eq!(vargha_delaney_a12(&[1.0], &[1.0]), 0.5);
        assert_eq!(vargha_delaney_a12(&[2.0, 3.0], &[0.0, 1.0]), 1.0);
        assert_eq!(vargha_delaney_a12(&[0.0], &[1.0]), 0.0);
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122),
            (1.0, 0.157_299_207),
            (2.0, 0.004_677_735),
            (-1.0, 1.842_700_793),
        ] {
            assert!((erfc(x) - want).abs() < 2e-7, "erfc({x}) = {}", erfc(x));
        }
    }
}
