//! Bar charts drawn on the server as SVG (`chart.html`): no script and no inline style, so the
//! pages' Content-Security-Policy holds, and the same look on every dashboard.

use serde::Serialize;

use crate::time::Timestamp;

/// A bar chart's geometry in SVG user units; the SVG scales to its box.
#[derive(Serialize)]
pub struct Chart {
    id: &'static str,
    caption: String,
    width: i64,
    height: i64,
    /// The axis' y: bars stand on it, labels go below.
    base: i64,
    peak: String,
    bars: Vec<Bar>,
}

#[derive(Serialize)]
struct Bar {
    x: i64,
    y: i64,
    width: i64,
    height: i64,
    label: String,
    value: String,
    /// Whether the label is written under the bar (every few, so they do not overlap).
    tick: bool,
}

const CHART_WIDTH: i64 = 600;
const CHART_HEIGHT: i64 = 180;
const LABEL_ROOM: i64 = 18;

/// Bars for `points` (label, amount, amount as shown), scaled to the largest.
pub fn bar_chart(id: &'static str, caption: String, points: &[(String, i64, String)]) -> Chart {
    let base = CHART_HEIGHT - LABEL_ROOM;
    let slot = CHART_WIDTH / (points.len().max(1) as i64);
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let every = (points.len() / 8).max(1);
    let peak = points.iter().max_by_key(|p| p.1).map(|p| p.2.clone()).unwrap_or_default();
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, (label, amount, shown))| {
            let height = (amount.max(&0) * (base - 4)) / max;
            Bar {
                x: i as i64 * slot + slot / 8,
                y: base - height,
                width: (slot * 3 / 4).max(1),
                height,
                label: label.clone(),
                value: shown.clone(),
                tick: i % every == 0,
            }
        })
        .collect();
    Chart { id, caption, width: CHART_WIDTH, height: CHART_HEIGHT, base, peak, bars }
}

/// A day's label under its bar: month-day, in UTC.
pub fn day_label(at: Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.millis())
        .map(|d| d.format("%m-%d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_stay_inside_the_chart() {
        let points: Vec<(String, i64, String)> =
            [0, 50, 100, -3].iter().map(|v| (format!("d{v}"), *v, v.to_string())).collect();
        let chart = bar_chart("t", "test".into(), &points);
        assert_eq!(chart.bars.len(), 4);
        assert_eq!(chart.bars[0].height, 0);
        assert_eq!(chart.bars[2].y, 4, "the largest reaches the top less a margin");
        assert_eq!(chart.bars[1].height * 2, chart.bars[2].height);
        assert_eq!(chart.bars[3].height, 0, "a negative amount draws no bar");
        assert_eq!(chart.peak, "100");
        for bar in &chart.bars {
            assert!(bar.x >= 0 && bar.x + bar.width <= chart.width);
            assert!(bar.y >= 0 && bar.y + bar.height <= chart.base);
        }
        assert!(bar_chart("e", "empty".into(), &[]).bars.is_empty());
    }
}
