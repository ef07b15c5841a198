//! The report as HTML that mail clients render: no scripts, no external resources, inline CSS
//! only, tables for layout, and every chart an `<img>` whose `src` the caller decides — a
//! `cid:` reference to a related MIME part in the email, a `data:` URI in `--out` files.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::chart::{self, Chart, ChartError, Forecast, LineChart, Reference};
use super::text::{compared, forecast_text, hour_ranges, percent};
use super::{short_time, DailyReport, MemoryRow};
use crate::findings::{bytes_text, duration_text};

/// The report's charts by id, in drawing order.
pub struct Charts(pub BTreeMap<String, Chart>);

impl Charts {
    pub fn all(&self) -> impl Iterator<Item = &Chart> {
        self.0.values()
    }
}

fn memory_chart(id: &str, row: &MemoryRow, report: &DailyReport) -> Result<Chart, ChartError> {
    let span = report.span_s();
    let forecast = row.forecast.as_ref().and_then(|f| {
        let offset = |t: time::OffsetDateTime| (t - report.since).as_seconds_f64();
        Some(Forecast {
            at_s: offset(f.exhaustion_at?),
            earliest_s: offset(f.exhaustion_earliest_at.or(f.exhaustion_at)?),
            latest_s: f.exhaustion_latest_at.map(offset),
        })
    });
    // With a forecast the chart reaches a little past the day, to where the limit is met.
    let x_end = forecast
        .map(|f| f.latest_s.unwrap_or(f.at_s).max(f.at_s).min(span * 1.25))
        .unwrap_or(span)
        .max(span);
    chart::line_chart(
        id,
        format!(
            "{}/{} working set as a share of its limit over the day{}",
            row.entity.pod,
            row.entity.container,
            if forecast.is_some() {
                ", with the forecast crossing"
            } else {
                ""
            }
        ),
        &LineChart {
            series: &[&row.entity.series],
            x_range: (0.0, x_end),
            y_max: 1.0,
            reference: Some((1.0, Reference::Limit)),
            forecast,
            size: chart::SMALL,
        },
    )
}

/// Draws every chart the HTML references.
pub fn charts(report: &DailyReport) -> Result<Charts, ChartError> {
    let mut out = BTreeMap::new();
    let span = report.span_s();
    let mut add = |c: Chart| {
        out.insert(c.id.clone(), c);
    };
    if let Some(m) = &report.memory {
        for (i, row) in m.closest.iter().enumerate() {
            add(memory_chart(&format!("memory-closest-{i}"), row, report)?);
        }
        for (i, row) in m.fastest.iter().enumerate() {
            add(memory_chart(&format!("memory-fastest-{i}"), row, report)?);
        }
        let series: Vec<&[super::gather::Point]> = m
            .closest
            .iter()
            .map(|r| r.entity.series.as_slice())
            .collect();
        if !series.is_empty() {
            add(chart::line_chart(
                "memory-summary",
                "The containers closest to their limit, as a share of it, over the day".into(),
                &LineChart {
                    series: &series,
                    x_range: (0.0, span),
                    y_max: 1.0,
                    reference: Some((1.0, Reference::Limit)),
                    forecast: None,
                    size: chart::WIDE,
                },
            )?);
        }
    }
    if let Some(e) = &report.errors {
        if !report.series.errors_hourly.is_empty() {
            let mut series: Vec<&[super::gather::Point]> = vec![&report.series.errors_hourly];
            if !report.series.errors_hourly_day_before.is_empty() {
                series.push(&report.series.errors_hourly_day_before);
            }
            add(chart::line_chart(
                "errors-summary",
                "Cluster-wide error ratio per hour, this day and the day before".into(),
                &LineChart {
                    series: &series,
                    x_range: (0.0, span),
                    y_max: 0.0,
                    reference: None,
                    forecast: None,
                    size: chart::WIDE,
                },
            )?);
        }
        for (list, rows) in [("highest", &e.highest), ("rising", &e.rising)] {
            for (i, row) in rows.iter().enumerate() {
                let baseline = row
                    .service
                    .ratio_day_before
                    .unwrap_or(row.service.earlier_ratio);
                add(chart::line_chart(
                    &format!("errors-{list}-{i}"),
                    format!(
                        "{} error ratio per hour, with its baseline",
                        row.service.service
                    ),
                    &LineChart {
                        series: &[&row.service.hourly],
                        x_range: (0.0, span),
                        y_max: baseline * 2.0,
                        reference: Some((baseline, Reference::Baseline)),
                        forecast: None,
                        size: chart::SMALL,
                    },
                )?);
            }
        }
    }
    if let Some(r) = &report.restarts {
        add(chart::bar_chart(
            "restarts-summary",
            "Restarts per hour, this day (bars) and the day before (line)".into(),
            &report.series.restarts_hourly,
            Some(&report.series.restarts_hourly_day_before),
            span,
            chart::WIDE,
        )?);
        for (i, e) in r.top.iter().enumerate() {
            add(chart::bar_chart(
                &format!("restarts-{i}"),
                format!("{}/{} restarts per hour", e.pod, e.container),
                &e.hourly,
                None,
                span,
                chart::SMALL,
            )?);
        }
    }
    if let Some(h) = &report.heartbeats {
        if !h.canaries.is_empty() {
            let rows: Vec<Vec<(f64, f64)>> = h
                .canaries
                .iter()
                .map(|c| c.outages.iter().map(|o| (o.from_s, o.to_s)).collect())
                .collect();
            add(chart::uptime_strips(
                "canaries",
                "Canary uptime over the day: green up, red down (one row per canary, in table order)"
                    .into(),
                &rows,
                span,
                chart::WIDE.0,
            )?);
        }
    }
    Ok(Charts(out))
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const TABLE: &str = "border-collapse:collapse;width:100%;font-size:13px;margin:6px 0 14px 0";
const TH: &str =
    "text-align:left;padding:4px 8px;border-bottom:2px solid #d1d5db;color:#374151;font-weight:600";
const TD: &str = "padding:4px 8px;border-bottom:1px solid #e5e7eb;vertical-align:middle";
const H2: &str = "font-size:17px;margin:22px 0 4px 0;color:#111827;border-bottom:1px solid #e5e7eb;padding-bottom:3px";
const NOTE: &str = "color:#6b7280;font-size:12px;margin:2px 0 8px 0";

/// The HTML document; `src` gives each chart's image source.
pub fn render(report: &DailyReport, charts: &Charts, src: impl Fn(&Chart) -> String) -> String {
    let img = |id: &str, width: u32| -> String {
        match charts.0.get(id) {
            Some(c) => format!(
                r#"<img src="{}" alt="{}" width="{width}" style="display:block;border:0;max-width:100%">"#,
                src(c),
                escape(&c.alt)
            ),
            None => String::new(),
        }
    };
    let span_note = format!(
        "{} → {} UTC",
        short_time(report.since),
        short_time(report.until)
    );
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{}</title></head><body style="margin:0;padding:0;background:#f9fafb"><table role="presentation" style="width:100%;background:#f9fafb"><tr><td align="center"><table role="presentation" style="width:100%;max-width:720px;background:#ffffff;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827;text-align:left"><tr><td style="padding:18px 22px">"#,
        escape(&report.title())
    );
    let _ = write!(
        out,
        r#"<h1 style="font-size:21px;margin:0 0 2px 0">forewarn daily report</h1><p style="{NOTE}">{}{}</p>"#,
        escape(&span_note),
        if report.clusters.is_empty() {
            String::new()
        } else {
            format!(" · clusters: {}", escape(&report.clusters.join(", ")))
        }
    );
    let box_color = if !report.problems.is_empty() {
        "#fef2f2"
    } else if report.quiet {
        "#f0fdf4"
    } else {
        "#eff6ff"
    };
    let _ = write!(
        out,
        r#"<table role="presentation" style="width:100%;background:{box_color};margin:8px 0 4px 0"><tr><td style="padding:10px 14px;font-size:14px;line-height:1.5"><ul style="margin:0;padding-left:18px">"#
    );
    for line in &report.headlines {
        let _ = write!(out, "<li>{}</li>", escape(line));
    }
    let _ = write!(out, "</ul></td></tr></table>");
    for m in &report.missing {
        let _ = write!(
            out,
            r#"<p style="{NOTE}">Missing data in the {} window: no rows {} UTC.</p>"#,
            escape(&m.window),
            escape(&hour_ranges(&m.hours))
        );
    }
    for p in &report.problems {
        let _ = write!(
            out,
            r#"<p style="color:#b91c1c;font-size:13px">Could not read {}: {}</p>"#,
            escape(&p.part),
            escape(&p.error)
        );
    }

    if let Some(m) = &report.memory {
        let _ = write!(out, r#"<h2 style="{H2}">Memory</h2>"#);
        let _ = write!(
            out,
            r#"<p style="{NOTE}">Containers above 80 % of their limit: {}. OOM kills: {}. Chart: the closest containers, share of limit (red line = limit), {span_note}.</p>"#,
            escape(&compared(&m.above_80_percent, |v| format!("{v:.0}"))),
            escape(&compared(&m.oom_kills, |v| format!("{v:.0}")))
        );
        out.push_str(&img("memory-summary", chart::WIDE.0));
        for (title, list, rows) in [
            ("Closest to their limit", "closest", &m.closest),
            ("Fastest growing", "fastest", &m.fastest),
        ] {
            if rows.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                r#"<h3 style="font-size:14px;margin:10px 0 2px 0">{title}</h3><table style="{TABLE}"><tr><th style="{TH}">container</th><th style="{TH}">peak</th><th style="{TH}">now</th><th style="{TH}">growth</th><th style="{TH}">forecast</th><th style="{TH}">day</th></tr>"#
            );
            for (i, r) in rows.iter().enumerate() {
                let e = &r.entity;
                let _ = write!(
                    out,
                    r#"<tr><td style="{TD}"><span style="display:inline-block;width:9px;height:9px;background:rgb{:?}"></span> <b>{}</b>/{}<br><span style="{NOTE}">{} · limit {}</span></td><td style="{TD}">{}{}{}</td><td style="{TD}">{}</td><td style="{TD}">{:+.1} %/h</td><td style="{TD}">{}</td><td style="{TD}">{}</td></tr>"#,
                    chart::palette(i),
                    escape(&e.pod),
                    escape(&e.container),
                    escape(&e.namespace),
                    bytes_text(e.limit_bytes),
                    percent(e.peak_ratio),
                    if e.oom_kills > 0 {
                        format!(
                            r#"<br><span style="color:#b91c1c;font-size:12px">OOM-killed ×{}</span>"#,
                            e.oom_kills
                        )
                    } else {
                        String::new()
                    },
                    e.peak_ratio_day_before
                        .map(|p| format!(
                            r#"<br><span style="{NOTE}">day before {}</span>"#,
                            percent(p)
                        ))
                        .unwrap_or_default(),
                    percent(e.last_ratio),
                    e.growth_ratio_per_h * 100.0,
                    escape(&forecast_text(r, report.until).unwrap_or_else(|| "—".into())),
                    img(&format!("memory-{list}-{i}"), chart::SMALL.0)
                );
            }
            out.push_str("</table>");
        }
        if m.without_limit > 0 {
            let _ = write!(
                out,
                r#"<p style="{NOTE}">{} containers have no memory limit and are not ranked.</p>"#,
                m.without_limit
            );
        }
    }

    if let Some(e) = &report.errors {
        let _ = write!(out, r#"<h2 style="{H2}">Error rates</h2>"#);
        let _ = write!(
            out,
            r#"<p style="{NOTE}">Error ratio: {}. Requests: {}. Chart: cluster-wide error ratio per hour (blue: this day; orange: the day before).</p>"#,
            escape(&compared(&e.error_ratio, percent)),
            escape(&compared(&e.requests, |v| format!("{v:.0}")))
        );
        out.push_str(&img("errors-summary", chart::WIDE.0));
        for (title, list, rows) in [
            ("Highest error ratio", "highest", &e.highest),
            ("Rising against their baseline", "rising", &e.rising),
        ] {
            if rows.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                r#"<h3 style="font-size:14px;margin:10px 0 2px 0">{title}</h3><table style="{TABLE}"><tr><th style="{TH}">service</th><th style="{TH}">day</th><th style="{TH}">last quarter</th><th style="{TH}">baseline</th><th style="{TH}">per hour (grey: baseline)</th></tr>"#
            );
            for (i, r) in rows.iter().enumerate() {
                let s = &r.service;
                let _ = write!(
                    out,
                    r#"<tr><td style="{TD}"><b>{}</b><br><span style="{NOTE}">{} · {} requests</span>{}</td><td style="{TD}">{}</td><td style="{TD}">{}</td><td style="{TD}">{}</td><td style="{TD}">{}</td></tr>"#,
                    escape(&s.service),
                    escape(&s.namespace),
                    s.requests,
                    r.finding
                        .as_ref()
                        .map(|f| format!(
                            r#"<br><span style="color:#b91c1c;font-size:12px">{}</span>"#,
                            escape(f)
                        ))
                        .unwrap_or_default(),
                    percent(s.error_ratio),
                    percent(s.recent_ratio),
                    percent(s.ratio_day_before.unwrap_or(s.earlier_ratio)),
                    img(&format!("errors-{list}-{i}"), chart::SMALL.0)
                );
            }
            out.push_str("</table>");
        }
    }

    if let Some(r) = &report.restarts {
        let _ = write!(out, r#"<h2 style="{H2}">Restarts</h2>"#);
        let _ = write!(
            out,
            r#"<p style="{NOTE}">Restarts: {} in {} containers. Chart: restarts per hour (bars: this day; line: the day before).</p>"#,
            escape(&compared(&r.restarts, |v| format!("{v:.0}"))),
            r.containers_restarted
        );
        out.push_str(&img("restarts-summary", chart::WIDE.0));
        if r.top.is_empty() {
            let _ = write!(out, r#"<p style="{NOTE}">No container restarted.</p>"#);
        } else {
            let _ = write!(
                out,
                r#"<table style="{TABLE}"><tr><th style="{TH}">container</th><th style="{TH}">restarts</th><th style="{TH}">why (pod events)</th><th style="{TH}">per hour</th></tr>"#
            );
            for (i, e) in r.top.iter().enumerate() {
                let reasons: Vec<String> =
                    e.reasons.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
                let _ = write!(
                    out,
                    r#"<tr><td style="{TD}"><b>{}</b>/{}<br><span style="{NOTE}">{}</span></td><td style="{TD}">{}</td><td style="{TD}">{}</td><td style="{TD}">{}</td></tr>"#,
                    escape(&e.pod),
                    escape(&e.container),
                    escape(&e.namespace),
                    e.restarts,
                    escape(&if reasons.is_empty() {
                        "—".to_string()
                    } else {
                        reasons.join(", ")
                    }),
                    img(&format!("restarts-{i}"), chart::SMALL.0)
                );
            }
            out.push_str("</table>");
        }
    }

    if let Some(h) = &report.heartbeats {
        let _ = write!(out, r#"<h2 style="{H2}">Canaries</h2>"#);
        if h.canaries.is_empty() {
            let _ = write!(
                out,
                r#"<p style="color:#b91c1c;font-size:13px">No canary beat this day: check the pipeline or the heartbeat matcher.</p>"#
            );
        } else {
            out.push_str(&img("canaries", chart::WIDE.0));
            let _ = write!(
                out,
                r#"<table style="{TABLE}"><tr><th style="{TH}">canary</th><th style="{TH}">uptime</th><th style="{TH}">beats every</th><th style="{TH}">outages</th></tr>"#
            );
            for c in &h.canaries {
                let outages: Vec<String> = c
                    .outages
                    .iter()
                    .map(|o| {
                        format!(
                            "{} for {}",
                            short_time(report.since + time::Duration::seconds_f64(o.from_s)),
                            duration_text(o.to_s - o.from_s)
                        )
                    })
                    .collect();
                let _ = write!(
                    out,
                    r#"<tr><td style="{TD}"><b>{}</b><br><span style="{NOTE}">{}</span></td><td style="{TD}">{:.1} %</td><td style="{TD}">{}</td><td style="{TD}">{}</td></tr>"#,
                    escape(&c.canary),
                    escape(&c.cluster),
                    c.uptime * 100.0,
                    duration_text(c.period_s),
                    escape(&if outages.is_empty() {
                        "none".into()
                    } else {
                        outages.join("; ")
                    })
                );
            }
            out.push_str("</table>");
        }
    }

    let _ = write!(out, r#"<h2 style="{H2}">forewarn's own day</h2>"#);
    match (&report.state, &report.state_note) {
        (Some(s), _) => {
            let _ = write!(
                out,
                r#"<table style="{TABLE}"><tr><td style="{TD}">runs</td><td style="{TD}">{} ({} failed)</td></tr><tr><td style="{TD}">findings opened / resolved</td><td style="{TD}">{} / {}</td></tr><tr><td style="{TD}">time to resolution</td><td style="{TD}">{}</td></tr><tr><td style="{TD}">notifications delivered</td><td style="{TD}">{} ({} failed attempts, {} rejected)</td></tr></table>"#,
                s.runs,
                s.failed_runs,
                s.findings_opened,
                s.findings_resolved,
                match (s.median_resolution_s, s.longest_resolution_s) {
                    (Some(m), Some(l)) =>
                        format!("median {}, longest {}", duration_text(m), duration_text(l)),
                    _ => "—".into(),
                },
                s.notifications_delivered,
                s.notifications_failed,
                s.notifications_rejected
            );
            if !s.actions.is_empty() {
                let _ = write!(
                    out,
                    r#"<table style="{TABLE}"><tr><th style="{TH}">runbook</th><th style="{TH}">recorded</th><th style="{TH}">applied</th><th style="{TH}">effective</th><th style="{TH}">ineffective</th><th style="{TH}">pending</th></tr>"#
                );
                for a in &s.actions {
                    let _ = write!(
                        out,
                        r#"<tr><td style="{TD}">{}</td><td style="{TD}">{}</td><td style="{TD}">{}</td><td style="{TD}">{}</td><td style="{TD}">{}</td><td style="{TD}">{}</td></tr>"#,
                        escape(&a.runbook),
                        a.recorded,
                        a.applied,
                        a.effective,
                        a.ineffective,
                        a.pending
                    );
                }
                out.push_str("</table>");
            }
        }
        (None, Some(note)) => {
            let _ = write!(out, r#"<p style="{NOTE}">{}</p>"#, escape(note));
        }
        (None, None) => {}
    }

    if !report.firing.is_empty() {
        let _ = write!(
            out,
            r#"<h2 style="{H2}">Firing at the end of the day</h2><table style="{TABLE}">"#
        );
        for f in &report.firing {
            let _ = write!(
                out,
                r#"<tr><td style="{TD}">{}</td><td style="{TD}">{}<br><span style="{NOTE}">forewarn explain {}</span></td></tr>"#,
                f.severity,
                escape(&f.summary),
                escape(&f.id)
            );
        }
        out.push_str("</table>");
    }
    let _ = write!(
        out,
        r#"<p style="{NOTE}">Times are UTC. Generated by forewarn from the same window queries as its rules.</p></td></tr></table></td></tr></table></body></html>"#
    );
    out
}
