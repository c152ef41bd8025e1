//! A rating as shoppers see it: the average of 1–5 stars and how many reviews it stands on.
//! What is stored is integers (the sum of the stars and the count), so recomputing it never
//! drifts; the average is derived from them only when shown.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct Rating {
    /// The mean of the stars, rounded half up to two decimals; 0 when there are no reviews.
    pub average: f64,
    /// How many reviews count.
    pub count: i64,
    /// The stars added up: what the average is exactly (for filters that must not round).
    #[serde(skip)]
    sum: i64,
}

impl Rating {
    /// The rating of `count` reviews whose stars add up to `sum`.
    pub fn of(sum: i64, count: i64) -> Self {
        if count <= 0 {
            return Self::default();
        }
        // Hundredths of a star, rounded half up in integers: no float ever accumulates.
        let hundredths = (sum * 200 + count) / (2 * count);
        Self { average: hundredths as f64 / 100.0, count, sum }
    }

    pub fn sum(self) -> i64 {
        self.sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_is_rounded_half_up_to_hundredths_from_integers() {
        assert_eq!(Rating::of(0, 0), Rating::default());
        assert_eq!((Rating::of(13, 3).sum(), Rating::of(13, 3).count), (13, 3));
        assert_eq!(Rating::of(5, 1).average, 5.0);
        assert_eq!(Rating::of(13, 3).average, 4.33);
        assert_eq!(Rating::of(14, 3).average, 4.67);
        assert_eq!(Rating::of(9, 2).average, 4.5);
        assert_eq!(Rating::of(1, 8).average, 0.13, "0.125 rounds up");
    }
}
