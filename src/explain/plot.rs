//! A chart for the terminal: one series as dots on a character grid, with horizontal reference
//! lines (a limit, a floor, a baseline) and marks along the bottom (events), labelled with the
//! value scale on the left and the times below. Plain characters only, so it survives pagers,
//! logs and copy-paste.

/// A horizontal line across the chart.
pub struct Line {
    pub value: f64,
    pub glyph: char,
    pub label: String,
}

pub struct TerminalChart<'a> {
    /// (seconds since the window's start, value)
    pub points: &'a [(f64, f64)],
    pub span_s: f64,
    pub lines: &'a [Line],
    /// Seconds since the start of buckets to mark under the axis (events).
    pub marks: &'a [f64],
    pub format: &'a dyn Fn(f64) -> String,
    pub start_label: String,
    pub end_label: String,
}

pub const WIDTH: usize = 64;
pub const HEIGHT: usize = 12;

pub fn render(chart: &TerminalChart) -> String {
    let top = chart
        .points
        .iter()
        .map(|p| p.1)
        .chain(chart.lines.iter().map(|l| l.value))
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.05;
    let row_of = |v: f64| -> usize {
        let r = ((v / top) * (HEIGHT - 1) as f64).round() as isize;
        (HEIGHT - 1) - r.clamp(0, HEIGHT as isize - 1) as usize
    };
    let col_of = |t: f64| -> usize {
        let c = (t / chart.span_s.max(1.0) * (WIDTH - 1) as f64).round() as isize;
        c.clamp(0, WIDTH as isize - 1) as usize
    };
    let mut grid = vec![vec![' '; WIDTH]; HEIGHT];
    for line in chart.lines {
        let row = row_of(line.value);
        for cell in grid[row].iter_mut() {
            *cell = line.glyph;
        }
    }
    for (t, v) in chart.points {
        if v.is_finite() {
            grid[row_of(*v)][col_of(*t)] = '●';
        }
    }
    let label_rows: Vec<(usize, String)> = vec![
        (0, (chart.format)(top)),
        (HEIGHT / 2, (chart.format)(top / 2.0)),
        (HEIGHT - 1, (chart.format)(0.0)),
    ];
    let label_width = label_rows
        .iter()
        .map(|(_, l)| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (index, row) in grid.iter().enumerate() {
        let label = label_rows
            .iter()
            .find(|(r, _)| *r == index)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        let line: String = row.iter().collect();
        let legend = chart
            .lines
            .iter()
            .find(|l| row_of(l.value) == index)
            .map(|l| format!(" {}", l.label))
            .unwrap_or_default();
        out.push_str(&format!("{label:>label_width$} ┤{line}{legend}\n"));
    }
    let mut axis = vec!['─'; WIDTH];
    for m in chart.marks {
        axis[col_of(*m)] = '▲';
    }
    out.push_str(&format!(
        "{:>label_width$} └{}\n",
        "",
        axis.iter().collect::<String>()
    ));
    let gap = WIDTH.saturating_sub(chart.start_label.len() + chart.end_label.len());
    out.push_str(&format!(
        "{:>label_width$}  {}{}{}\n",
        "",
        chart.start_label,
        " ".repeat(gap),
        chart.end_label
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rising_series_climbs_toward_its_limit_line() {
        let points: Vec<(f64, f64)> = (0..60).map(|i| (i as f64 * 60.0, i as f64)).collect();
        let text = render(&TerminalChart {
            points: &points,
            span_s: 3600.0,
            lines: &[Line {
                value: 100.0,
                glyph: '━',
                label: "limit".into(),
            }],
            marks: &[1800.0],
            format: &|v| format!("{v:.0}"),
            start_label: "10:00".into(),
            end_label: "11:00".into(),
        });
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), HEIGHT + 2);
        let limit_row = rows.iter().position(|r| r.contains("limit")).unwrap();
        // The limit is above every point: the first dot row is below it.
        let first_dot = rows.iter().position(|r| r.contains('●')).unwrap();
        assert!(limit_row < first_dot, "{text}");
        // The last point (59) is in the right half, higher than the first (0).
        let last_dot_row = rows.iter().rposition(|r| r.contains('●')).unwrap();
        assert!(first_dot < last_dot_row);
        assert!(rows[HEIGHT].contains('▲'), "{text}");
    }
}
