//! Hand-made telemetry for parity tests: the exporter's tables built row by row in the demo
//! model's vocabulary (`forewarn::demo::model`) and written by the demo's Parquet writer, for
//! shapes the generator never produces — names that change inside a bucket, counter resets,
//! duplicate samples, rows out of time order.

use std::collections::HashMap;
use std::path::Path;

use forewarn::demo::model::{Attributes, Dataset, LogRecord, MetricPoint, MetricSeries, Resource};
use forewarn::demo::parquet::{write_dataset, GAUGE_FILE, LOGS_FILE};
use forewarn::window::timefmt;
use polars::prelude::{IdxCa, LazyFrame, ParquetWriter, PlRefPath};
use time::OffsetDateTime;

/// One log record to add (the resource and its `ServiceName` included).
#[derive(Debug, Clone, Default)]
pub struct Log<'a> {
    pub service: &'a str,
    pub resource: &'a [(&'a str, &'a str)],
    pub severity_number: u8,
    pub severity_text: &'a str,
    pub body: &'a str,
    pub attributes: &'a [(&'a str, &'a str)],
}

/// Telemetry under construction; resources and series are shared by equal attribute maps.
#[derive(Default)]
pub struct Telemetry {
    dataset: Dataset,
    resources: HashMap<(String, Attributes), u32>,
    series: HashMap<(String, u32), u32>,
}

pub fn attributes(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Telemetry {
    fn resource(&mut self, service: &str, pairs: &[(&str, &str)]) -> u32 {
        let key = (service.to_string(), attributes(pairs));
        if let Some(index) = self.resources.get(&key) {
            return *index;
        }
        let index = self.dataset.resources.len() as u32;
        self.dataset.resources.push(Resource {
            service_name: key.0.clone(),
            attributes: key.1.clone(),
        });
        self.resources.insert(key, index);
        index
    }

    /// Adds one gauge sample of `metric` from the resource `pairs` (a k8s receiver: no service).
    pub fn gauge(
        &mut self,
        metric: &str,
        pairs: &[(&str, &str)],
        at: OffsetDateTime,
        value: f64,
    ) -> &mut Self {
        let resource = self.resource("", pairs);
        let key = (metric.to_string(), resource);
        let series = match self.series.get(&key) {
            Some(series) => *series,
            None => {
                let series = self.dataset.gauge_series.len() as u32;
                self.dataset.gauge_series.push(MetricSeries {
                    metric_name: metric.to_string(),
                    description: String::new(),
                    unit: String::new(),
                    resource,
                    attributes: Vec::new(),
                });
                self.series.insert(key, series);
                series
            }
        };
        self.dataset.gauge_points.push(MetricPoint {
            series,
            time_unix_ns: timefmt::to_nanos(at),
            value,
        });
        self
    }

    pub fn log(&mut self, at: OffsetDateTime, log: Log<'_>) -> &mut Self {
        let resource = self.resource(log.service, log.resource);
        self.dataset.logs.push(LogRecord {
            resource,
            timestamp_ns: timefmt::to_nanos(at),
            severity_number: log.severity_number,
            severity_text: log.severity_text.to_string(),
            body: log.body.to_string(),
            attributes: attributes(log.attributes),
            scope_name: String::new(),
        });
        self
    }

    /// Writes the tables into `dir` in the demo's layout, then rewrites each table file with
    /// its rows in a scrambled (but fixed) order, so no reader may rely on time order.
    pub fn write_out_of_order(&self, dir: &Path) {
        write_dataset(&self.dataset, dir).expect("writing the fixture tables");
        for file in [GAUGE_FILE, LOGS_FILE] {
            let path = dir.join(file);
            let frame = LazyFrame::scan_parquet(
                PlRefPath::new(path.display().to_string()),
                Default::default(),
            )
            .unwrap()
            .collect()
            .unwrap();
            let mut order: Vec<u32> = (0..frame.height() as u32).collect();
            order.sort_by_key(|i| (u64::from(*i) * 2_654_435_761) % (1 << 32));
            let mut scrambled = frame.take(&IdxCa::from_vec("order".into(), order)).unwrap();
            let out = std::fs::File::create(&path).unwrap();
            ParquetWriter::new(out).finish(&mut scrambled).unwrap();
        }
    }
}
