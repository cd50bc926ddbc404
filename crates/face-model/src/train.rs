//! The Learner's view of the model (feature `train`): a batch type, the binary
//! classification output and the `TrainStep`/`InferenceStep` impls. They live here
//! because Rust's orphan rule puts a foreign trait's impl beside the type.
//!
//! The loss is binary cross-entropy on the logit (the numerically stable form). The
//! output carries `p = sigmoid(logit)` and adapts it for burn-train's metrics: accuracy
//! gets two columns `[1 − p, p]` (its argmax would always say "no face" on one column),
//! precision and recall get the single face column, so they are the face class's.

use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::train::metric::{AccuracyInput, Adaptor, ConfusionStatsInput, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};

use crate::model::FaceModel;

/// A batch of padded token ids and labels.
#[derive(Debug, Clone)]
pub struct FaceBatch {
    /// Token ids, `[batch, n_ctx]`.
    pub tokens: Tensor<2, Int>,
    /// Labels, 1 for a face, `[batch]`.
    pub labels: Tensor<1, Int>,
}

/// One step's loss and predictions.
#[derive(Debug)]
pub struct FaceOutput {
    /// Mean BCE over the batch, `[1]`.
    pub loss: Tensor<1>,
    /// Probability of a face, `[batch]`.
    pub proba: Tensor<1>,
    /// Labels, `[batch]`.
    pub targets: Tensor<1, Int>,
}

impl FaceModel {
    /// Forward, BCE-with-logits loss and probabilities for one batch.
    pub fn forward_classification(&self, batch: FaceBatch) -> FaceOutput {
        let logit = self.forward(batch.tokens).logit; // [batch]
        let loss = BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&logit.device())
            .forward(logit.clone(), batch.labels.clone());
        FaceOutput {
            loss,
            proba: sigmoid(logit),
            targets: batch.labels,
        }
    }
}

impl TrainStep for FaceModel {
    type Input = FaceBatch;
    type Output = FaceOutput;

    fn step(&self, batch: FaceBatch) -> TrainOutput<FaceOutput> {
        let out = self.forward_classification(batch);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for FaceModel {
    type Input = FaceBatch;
    type Output = FaceOutput;

    fn step(&self, batch: FaceBatch) -> FaceOutput {
        self.forward_classification(batch)
    }
}

impl ItemLazy for FaceOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        self.loss.device().flush()?;
        Ok(FaceOutput {
            loss: self.loss.without_autodiff(),
            proba: self.proba.without_autodiff(),
            targets: self.targets.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for FaceOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<AccuracyInput> for FaceOutput {
    fn adapt(&self) -> AccuracyInput {
        let p = self.proba.clone().unsqueeze_dim::<2>(1); // [batch, 1]
        let two = Tensor::cat(vec![p.clone().neg().add_scalar(1.0), p], 1); // [batch, 2]
        AccuracyInput::new(two, self.targets.clone())
    }
}

impl Adaptor<ConfusionStatsInput> for FaceOutput {
    fn adapt(&self) -> ConfusionStatsInput {
        ConfusionStatsInput::new(
            self.proba.clone().unsqueeze_dim(1),
            self.targets.clone().unsqueeze_dim::<2>(1).bool(),
        )
    }
}
