//! The model's parameters as plain `f32` arrays with TransformerLens names, the bridge
//! between Burn, safetensors and the raw evaluator.
//!
//! Orientation (stated in the safetensors metadata too): every matrix multiplies on the
//! right, `y = x·W + b`, rows are inputs. So `W_Q` is `[d_model, d_head]` (the transpose of
//! PyTorch's `nn.Linear.weight`), and `W_U` is `[n_ctx, d_model]`: the logit is
//! `Σ_pos Σ_i z[pos, i]·W_U[pos, i] + b_U`.

use burn::module::Param;
use burn::prelude::*;

use crate::config::FaceModelConfig;
use crate::model::FaceModel;

/// One named tensor: name, shape, row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// TransformerLens-style name (`W_E`, `b_Q`, ...).
    pub name: &'static str,
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// All parameters, row-major, `x·W` orientation.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// `[d_vocab, d_model]`
    pub w_e: Vec<f32>,
    /// `[d_model, d_model]`
    pub w_q: Vec<f32>,
    /// `[d_model]`
    pub b_q: Vec<f32>,
    /// `[d_model, d_model]`
    pub w_k: Vec<f32>,
    /// `[d_model]`
    pub b_k: Vec<f32>,
    /// `[d_model, d_model]`
    pub w_v: Vec<f32>,
    /// `[d_model]`
    pub b_v: Vec<f32>,
    /// `[n_ctx, d_model]`
    pub w_u: Vec<f32>,
    /// `[1]`
    pub b_u: Vec<f32>,
}

/// The names, in file order.
pub const WEIGHT_NAMES: [&str; 9] = [
    "W_E", "W_Q", "b_Q", "W_K", "b_K", "W_V", "b_V", "W_U", "b_U",
];

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

fn bias(l: &burn::nn::Linear) -> Vec<f32> {
    l.bias.as_ref().map(|b| values(b.val())).unwrap_or_default()
}

impl Weights {
    /// Reads the parameters out of a model (from any device).
    pub fn from_model(model: &FaceModel) -> Self {
        Weights {
            w_e: values(model.embed.weight.val()),
            w_q: values(model.attn.w_q.weight.val()),
            b_q: bias(&model.attn.w_q),
            w_k: values(model.attn.w_k.weight.val()),
            b_k: bias(&model.attn.w_k),
            w_v: values(model.attn.w_v.weight.val()),
            b_v: bias(&model.attn.w_v),
            w_u: values(model.head.weight.val()),
            b_u: bias(&model.head),
        }
    }

    /// The expected shape of each tensor under `cfg`, in [`WEIGHT_NAMES`] order.
    pub fn shapes(cfg: &FaceModelConfig) -> [Vec<usize>; 9] {
        let d = cfg.d_model;
        [
            vec![cfg.d_vocab, d],
            vec![d, d],
            vec![d],
            vec![d, d],
            vec![d],
            vec![d, d],
            vec![d],
            vec![cfg.n_ctx, d],
            vec![1],
        ]
    }

    /// The tensors with names and shapes under `cfg`.
    pub fn named(&self, cfg: &FaceModelConfig) -> Vec<NamedTensor> {
        let vals = [
            &self.w_e, &self.w_q, &self.b_q, &self.w_k, &self.b_k, &self.w_v, &self.b_v, &self.w_u,
            &self.b_u,
        ];
        WEIGHT_NAMES
            .iter()
            .zip(Self::shapes(cfg))
            .zip(vals)
            .map(|((name, shape), v)| NamedTensor {
                name,
                shape,
                values: v.clone(),
            })
            .collect()
    }

    /// Builds from named tensors; `Err` names the first missing or mis-shaped tensor.
    pub fn from_named(cfg: &FaceModelConfig, tensors: &[NamedTensor]) -> Result<Self, String> {
        let shapes = Self::shapes(cfg);
        let mut out: Vec<Vec<f32>> = Vec::with_capacity(9);
        for (name, shape) in WEIGHT_NAMES.iter().zip(shapes) {
            let t = tensors
                .iter()
                .find(|t| t.name == *name)
                .ok_or_else(|| format!("tensor {name} is missing"))?;
            if t.shape != shape {
                return Err(format!(
                    "tensor {name} has shape {:?}, the config implies {:?}",
                    t.shape, shape
                ));
            }
            if t.values.len() != shape.iter().product::<usize>() {
                return Err(format!("tensor {name} has the wrong number of values"));
            }
            out.push(t.values.clone());
        }
        let mut it = out.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Weights {
            w_e: next(),
            w_q: next(),
            b_q: next(),
            w_k: next(),
            b_k: next(),
            w_v: next(),
            b_v: next(),
            w_u: next(),
            b_u: next(),
        })
    }

    /// A model on `device` holding exactly these weights. The lengths must match `cfg`
    /// (as [`Weights::from_named`] guarantees).
    pub fn to_model(&self, cfg: &FaceModelConfig, device: &Device) -> FaceModel {
        let d = cfg.d_model;
        let t2 = |v: &[f32], r: usize, c: usize| {
            Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(v.to_vec(), [r, c]),
                device,
            ))
        };
        let t1 = |v: &[f32]| {
            Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(v.to_vec(), [v.len()]),
                device,
            ))
        };
        let mut m = cfg.init(device);
        m.embed.weight = t2(&self.w_e, cfg.d_vocab, d);
        m.attn.w_q.weight = t2(&self.w_q, d, d);
        m.attn.w_q.bias = Some(t1(&self.b_q));
        m.attn.w_k.weight = t2(&self.w_k, d, d);
        m.attn.w_k.bias = Some(t1(&self.b_k));
        m.attn.w_v.weight = t2(&self.w_v, d, d);
        m.attn.w_v.bias = Some(t1(&self.b_v));
        m.head.weight = t2(&self.w_u, cfg.n_ctx * d, 1);
        m.head.bias = Some(t1(&self.b_u));
        m
    }
}
