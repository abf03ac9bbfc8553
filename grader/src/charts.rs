//! Small charts drawn on the server as SVG text (no script, no CDN). Every
//! label goes through the HTML escaper; numbers are formatted by us.

use distlab::html::escape;

/// A score histogram: one bar per slice of the points, the count above it.
pub fn histogram(bins: &[u64], points: u32, label: &str) -> String {
    const W: f64 = 240.0;
    const H: f64 = 90.0;
    const AXIS: f64 = 14.0;
    let n = bins.len().max(1) as f64;
    let top = bins.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar_w = W / n;
    let mut svg = format!(
        "<svg class=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\" role=\"img\"><title>{}</title>",
        H + AXIS,
        H + AXIS,
        escape(label)
    );
    for (i, &count) in bins.iter().enumerate() {
        let h = (H - 12.0) * count as f64 / top;
        let x = i as f64 * bar_w;
        let lo = points as f64 * i as f64 / n;
        let hi = points as f64 * (i + 1) as f64 / n;
        svg += &format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#4a7fb5\"><title>{count} student(s) scored {lo:.1} to {hi:.1}</title></rect>",
            x + 1.0,
            H - h,
            bar_w - 2.0,
        );
        if count > 0 {
            svg += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{count}</text>",
                x + bar_w / 2.0,
                H - h - 2.0
            );
        }
    }
    svg += &format!(
        "<line x1=\"0\" y1=\"{H}\" x2=\"{W}\" y2=\"{H}\" stroke=\"#888\"/><text x=\"0\" y=\"{}\" font-size=\"10\">0</text><text x=\"{W}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{points}</text></svg>",
        H + AXIS - 2.0,
        H + AXIS - 2.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bar_per_bin_and_labels_escaped() {
        let svg = histogram(&[0, 3, 1], 5, "<script>x</script>");
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("3 student(s) scored 1.7 to 3.3"));
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
    }
}
