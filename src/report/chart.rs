//! The report's charts, drawn with plotters into an RGB buffer and encoded as PNG — no browser,
//! no font files, no external service. The charts carry no text: their titles, axes and values
//! are in the HTML around them, where a mail client renders them crisply and a screen reader
//! reads them.

use plotters::prelude::*;

use super::gather::Point;

/// A chart ready to embed.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Unique in the report; the Content-ID of its image part in the email.
    pub id: String,
    /// What the chart shows, for `alt` and the plain-text part.
    pub alt: String,
    pub png: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("drawing chart {id}: {reason}")]
pub struct ChartError {
    pub id: String,
    pub reason: String,
}

pub const SMALL: (u32, u32) = (240, 56);
pub const WIDE: (u32, u32) = (640, 160);

const LINE: RGBColor = RGBColor(37, 99, 235);
const BASELINE: RGBColor = RGBColor(120, 120, 120);
const LIMIT: RGBColor = RGBColor(220, 38, 38);
const WARN: RGBColor = RGBColor(234, 179, 8);
const UP: RGBColor = RGBColor(22, 163, 74);
const GRID: RGBColor = RGBColor(229, 231, 235);
/// Colours for several series on one chart (in table order).
const PALETTE: [RGBColor; 6] = [
    RGBColor(37, 99, 235),
    RGBColor(234, 88, 12),
    RGBColor(22, 163, 74),
    RGBColor(147, 51, 234),
    RGBColor(219, 39, 119),
    RGBColor(13, 148, 136),
];

pub fn palette(index: usize) -> (u8, u8, u8) {
    let c = PALETTE[index % PALETTE.len()];
    (c.0, c.1, c.2)
}

/// A line with a horizontal reference (a limit at 1.0, a baseline ratio), and optionally a
/// forecast: a line from the last point to `(at, 1.0)` and the interval drawn on the limit.
pub struct LineChart<'a> {
    pub series: &'a [&'a [Point]],
    pub x_range: (f64, f64),
    /// y from 0 to at least this.
    pub y_max: f64,
    pub reference: Option<(f64, Reference)>,
    pub forecast: Option<Forecast>,
    pub size: (u32, u32),
}

#[derive(Clone, Copy)]
pub enum Reference {
    Limit,
    Baseline,
}

#[derive(Clone, Copy, Debug)]
pub struct Forecast {
    pub at_s: f64,
    pub earliest_s: f64,
    pub latest_s: Option<f64>,
}

pub fn line_chart(id: &str, alt: String, spec: &LineChart) -> Result<Chart, ChartError> {
    let (w, h) = spec.size;
    draw(id, alt, w, h, |root| {
        let y_top = spec
            .series
            .iter()
            .flat_map(|s| s.iter().map(|p| p.1))
            .fold(spec.y_max, f64::max)
            * 1.05;
        let (x0, x1) = spec.x_range;
        let mut chart = ChartBuilder::on(root)
            .margin(3)
            .build_cartesian_2d(x0..x1, 0.0..y_top)
            .map_err(|e| e.to_string())?;
        for fraction in [0.25, 0.5, 0.75] {
            let y = y_top * fraction;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x0, y), (x1, y)],
                    GRID.stroke_width(1),
                )))
                .map_err(|e| e.to_string())?;
        }
        if let Some((y, kind)) = spec.reference {
            let color = match kind {
                Reference::Limit => LIMIT,
                Reference::Baseline => BASELINE,
            };
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x0, y), (x1, y)],
                    color.stroke_width(2),
                )))
                .map_err(|e| e.to_string())?;
        }
        for (index, series) in spec.series.iter().enumerate() {
            let color = if spec.series.len() == 1 {
                LINE
            } else {
                PALETTE[index % PALETTE.len()]
            };
            if spec.series.len() == 1 {
                chart
                    .draw_series(AreaSeries::new(
                        series.iter().copied(),
                        0.0,
                        color.mix(0.15),
                    ))
                    .map_err(|e| e.to_string())?;
            }
            chart
                .draw_series(LineSeries::new(
                    series.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
        }
        if let (Some(f), Some(last)) = (spec.forecast, spec.series.first().and_then(|s| s.last())) {
            let latest = f.latest_s.unwrap_or(x1).min(x1);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(f.earliest_s.min(x1), 0.97), (latest, 1.03)],
                    WARN.mix(0.6).filled(),
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![*last, (f.at_s.min(x1), 1.0)],
                    WARN.stroke_width(2),
                )))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// Bars per hour (restarts), optionally with a comparison line (the day before).
pub fn bar_chart(
    id: &str,
    alt: String,
    bars: &[Point],
    comparison: Option<&[Point]>,
    span_s: f64,
    size: (u32, u32),
) -> Result<Chart, ChartError> {
    let (w, h) = size;
    draw(id, alt, w, h, |root| {
        let top = bars
            .iter()
            .chain(comparison.unwrap_or(&[]).iter())
            .map(|p| p.1)
            .fold(1.0, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(root)
            .margin(3)
            .build_cartesian_2d(0.0..span_s, 0.0..top)
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bars.iter().map(|(x, y)| {
                Rectangle::new(
                    [(x - 1500.0, 0.0), (x + 1500.0, *y)],
                    LINE.mix(0.8).filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        if let Some(line) = comparison {
            chart
                .draw_series(LineSeries::new(
                    line.iter().copied(),
                    BASELINE.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// One row per canary: green where it beat within its tolerance, red where it was down.
pub fn uptime_strips(
    id: &str,
    alt: String,
    rows: &[Vec<(f64, f64)>],
    span_s: f64,
    width: u32,
) -> Result<Chart, ChartError> {
    let row_h = 14u32;
    let h = (rows.len().max(1) as u32) * (row_h + 4) + 4;
    draw(id, alt, width, h, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(2)
            .build_cartesian_2d(0.0..span_s, 0.0..(rows.len().max(1) as f64))
            .map_err(|e| e.to_string())?;
        for (index, outages) in rows.iter().enumerate() {
            let y0 = (rows.len() - 1 - index) as f64 + 0.15;
            let y1 = y0 + 0.7;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y0), (span_s, y1)],
                    UP.mix(0.85).filled(),
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(outages.iter().map(|(from, to)| {
                    Rectangle::new(
                        [(*from, y0), (to.max(from + span_s / 400.0), y1)],
                        LIMIT.filled(),
                    )
                }))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

type Root<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Paints a `w`×`h` white canvas and encodes it as the chart `id`.
fn draw(
    id: &str,
    alt: String,
    w: u32,
    h: u32,
    paint: impl FnOnce(&Root) -> Result<(), String>,
) -> Result<Chart, ChartError> {
    let error = |reason: String| ChartError {
        id: id.to_string(),
        reason,
    };
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| error(e.to_string()))?;
        paint(&root).map_err(error)?;
        root.present().map_err(|e| error(e.to_string()))?;
    }
    let png = encode_png(&rgb, w, h).map_err(|e| error(e.to_string()))?;
    Ok(Chart {
        id: id.to_string(),
        alt,
        png,
    })
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_is_a_png_with_the_series_drawn() {
        let series: Vec<Point> = (0..50)
            .map(|i| (i as f64, 0.2 + i as f64 / 100.0))
            .collect();
        let chart = line_chart(
            "t",
            "test".into(),
            &LineChart {
                series: &[&series],
                x_range: (0.0, 60.0),
                y_max: 1.0,
                reference: Some((1.0, Reference::Limit)),
                forecast: Some(Forecast {
                    at_s: 55.0,
                    earliest_s: 52.0,
                    latest_s: Some(58.0),
                }),
                size: SMALL,
            },
        )
        .unwrap();
        assert_eq!(&chart.png[1..4], b"PNG");
        let decoder = png::Decoder::new(std::io::Cursor::new(&chart.png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut pixels).unwrap();
        let coloured = pixels
            .chunks(3)
            .filter(|p| p[0] != p[1] || p[1] != p[2])
            .count();
        // The line, the limit and the forecast are coloured; most of the chart is white.
        assert!(coloured > 200, "{coloured} coloured pixels");
        assert!(
            coloured < pixels.len() / 3 / 2,
            "{coloured} coloured pixels"
        );
    }
}
