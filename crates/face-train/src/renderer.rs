//! Progress and per-epoch metrics.
//!
//! [`EpochRenderer`] sits where burn-train puts its renderer. It records each split's
//! final metric values (burn-train sends them at the end of a split), hands them to a
//! callback (the run writes `metrics.json` there), and displays progress: through the
//! Learner's TUI when stdout is a terminal, otherwise as one readable line per epoch and
//! split (burn-train's own non-terminal renderer prints a debug line per batch and no
//! metric values).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use burn::train::Interrupter;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use serde::{Deserialize, Serialize};

/// One split of one epoch: the epoch-level values burn-train computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// `train` or `valid`.
    pub split: String,
    /// Mean binary cross-entropy (NaN, stored as `null`, when not computed).
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f64,
    /// Accuracy, in [0, 1].
    #[serde(deserialize_with = "nan_if_null")]
    pub accuracy: f64,
    /// Precision of the face class, in [0, 1] (NaN when nothing was predicted a face).
    #[serde(deserialize_with = "nan_if_null")]
    pub precision: f64,
    /// Recall of the face class, in [0, 1].
    #[serde(deserialize_with = "nan_if_null")]
    pub recall: f64,
    /// Seconds since training (this process) started, at the end of the split.
    pub elapsed_s: f64,
}

/// JSON has no NaN: serde_json writes it as `null`; read `null` back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Called with each split's metrics as soon as the split ends.
pub type OnSplit = Box<dyn FnMut(&SplitMetrics) + Send + Sync>;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// burn-train's terminal dashboard.
    Tui,
    /// One line per epoch and split on stdout.
    Lines,
    /// Nothing (library use, tests).
    Quiet,
}

/// See the module docs.
pub struct EpochRenderer {
    tui: Option<Box<dyn MetricsRenderer>>,
    lines: bool,
    names: HashMap<MetricId, String>,
    total_epochs: usize,
    epoch: usize,
    split: String,
    finals: BTreeMap<String, f64>,
    on_split: OnSplit,
    stop_before: Option<(usize, Interrupter)>,
    start: Instant,
}

impl EpochRenderer {
    /// A renderer that shows progress as `display` says and calls `on_split` after each
    /// split.
    pub fn new(display: Display, interrupter: &Interrupter, on_split: OnSplit) -> Self {
        let tui = match display {
            #[cfg(feature = "tui")]
            Display::Tui => Some(Box::new(
                burn::train::renderer::tui::TuiMetricsRendererWrapper::new(
                    interrupter.clone(),
                    None,
                ),
            ) as Box<dyn MetricsRenderer>),
            _ => None,
        };
        let _ = interrupter;
        EpochRenderer {
            tui,
            lines: display == Display::Lines,
            names: HashMap::new(),
            total_epochs: 0,
            epoch: 1,
            split: String::new(),
            finals: BTreeMap::new(),
            on_split,
            stop_before: None,
            start: Instant::now(),
        }
    }

    /// Stops training as epoch `epoch` starts (after epoch `epoch − 1` is checkpointed):
    /// a deterministic stand-in for a kill, for tests and `--stop-before-epoch`.
    pub fn stop_before_epoch(mut self, epoch: usize, interrupter: Interrupter) -> Self {
        self.stop_before = Some((epoch, interrupter));
        self
    }

    fn record(&mut self, state: MetricState) {
        if let MetricState::Numeric(entry, Some(NumericEntry::Final(v))) = &state
            && let Some(name) = self.names.get(&entry.metric_id)
        {
            self.finals.insert(name.to_lowercase(), *v);
        }
    }

    fn metric(&self, prefix: &str) -> f64 {
        self.finals
            .iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

/// A loss with 4 significant digits (scientific below 0.001).
fn fmt_loss(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.3e}")
    } else {
        format!("{x:.5}")
    }
}

/// `12.34%`-style percentage of a fraction.
fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

impl MetricsRendererTraining for EpochRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(clone_state(&state));
        if let Some(t) = &mut self.tui {
            t.update_train(state);
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(clone_state(&state));
        if let Some(t) = &mut self.tui {
            t.update_valid(state);
        }
    }

    fn on_train_end(
        &mut self,
        summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        match &mut self.tui {
            Some(t) => t.on_train_end(summary),
            None => Ok(()),
        }
    }
}

fn clone_state(s: &MetricState) -> MetricState {
    match s {
        MetricState::Generic(e) => MetricState::Generic(e.clone()),
        MetricState::Numeric(e, n) => MetricState::Numeric(e.clone(), n.clone()),
    }
}

impl TrainingProgressLogger for EpochRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
        if let Some(t) = &mut self.tui {
            t.start(total_epochs, starting_epoch, total_items, label);
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
        if let Some(t) = &mut self.tui {
            t.update_epoch(epoch);
        }
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_lowercase();
        self.finals.clear();
        if let Some((at, interrupter)) = &self.stop_before
            && self.split == "train"
            && self.epoch >= *at
        {
            interrupter.stop(Some("stop requested before this epoch"));
        }
        if let Some(t) = &mut self.tui {
            t.start_split(split, total_items);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        if let Some(t) = &mut self.tui {
            t.update_split(items_processed);
        }
    }

    fn end_split(&mut self) {
        let stopped = self
            .stop_before
            .as_ref()
            .is_some_and(|(at, _)| self.epoch >= *at);
        if !stopped {
            let m = SplitMetrics {
                epoch: self.epoch,
                split: self.split.clone(),
                loss: self.metric("loss"),
                accuracy: self.metric("accuracy") / 100.0,
                precision: self.metric("precision") / 100.0,
                recall: self.metric("recall") / 100.0,
                elapsed_s: self.start.elapsed().as_secs_f64(),
            };
            if self.lines {
                println!(
                    "epoch {:>w$}/{} {:<5}  loss {}  accuracy {}  precision {}  recall {}  ({:.1} s)",
                    m.epoch,
                    self.total_epochs,
                    m.split,
                    fmt_loss(m.loss),
                    pct(m.accuracy),
                    pct(m.precision),
                    pct(m.recall),
                    m.elapsed_s,
                    w = self.total_epochs.to_string().len(),
                );
            }
            (self.on_split)(&m);
        }
        if let Some(t) = &mut self.tui {
            t.end_split();
        }
    }

    fn end(&mut self) {
        if let Some(t) = &mut self.tui {
            TrainingProgressLogger::end(t.as_mut());
        }
    }

    fn log_event_training(&mut self, event: String) {
        if let Some(t) = &mut self.tui {
            t.log_event_training(event);
        }
    }
}

impl MetricsRendererEvaluation for EpochRenderer {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        if let Some(t) = &mut self.tui {
            t.update_test(name, state);
        }
    }
}

impl EvaluationProgressLogger for EpochRenderer {
    fn start_global_progress(&mut self, total_tests: usize) {
        if let Some(t) = &mut self.tui {
            t.start_global_progress(total_tests);
        }
    }
    fn start_test(&mut self, name: &str, total_items: usize) {
        if let Some(t) = &mut self.tui {
            t.start_test(name, total_items);
        }
    }
    fn update_test_progress(&mut self, items_processed: usize) {
        if let Some(t) = &mut self.tui {
            t.update_test_progress(items_processed);
        }
    }
    fn end_test(&mut self) {
        if let Some(t) = &mut self.tui {
            t.end_test();
        }
    }
    fn end_global_progress(&mut self) {
        if let Some(t) = &mut self.tui {
            t.end_global_progress();
        }
    }
    fn log_event_evaluation(&mut self, event: String) {
        if let Some(t) = &mut self.tui {
            t.log_event_evaluation(event);
        }
    }
}

impl MetricsRenderer for EpochRenderer {
    fn manual_close(&mut self) {
        if let Some(t) = &mut self.tui {
            t.manual_close();
        }
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
        if let Some(t) = &mut self.tui {
            t.register_metric(definition);
        }
    }
}
