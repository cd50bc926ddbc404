//! Hook points, the activation cache and interventions.
//!
//! Names are TransformerLens's (`blocks.0.attn.hook_q`, ...), plus `head.hook_in` and
//! `head.hook_out` for the classifier head (our extension, after TL v3's
//! `unembed.hook_in/out`). There is one head, so TL's `head_index` axis is dropped:
//! q, k, v, z are `[batch, pos, d_model]` and scores and pattern `[batch, query_pos, key_pos]`.
//!
//! Interventions are values passed to a run, never global state: a run with no
//! interventions is the plain forward.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;

/// A named activation of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookName {
    /// `hook_embed`: `W_E[tokens]`, `[batch, pos, d_model]`.
    Embed,
    /// `blocks.0.attn.hook_q`: `x·W_Q + b_Q`, `[batch, pos, d_model]`.
    Q,
    /// `blocks.0.attn.hook_k`: `x·W_K + b_K`, `[batch, pos, d_model]`.
    K,
    /// `blocks.0.attn.hook_v`: `x·W_V + b_V`, `[batch, pos, d_model]`.
    V,
    /// `blocks.0.attn.hook_attn_scores`: `q·kᵀ` (over `sqrt(d_model)` if scaled, PAD keys
    /// at -inf if masked), `[batch, query_pos, key_pos]`.
    AttnScores,
    /// `blocks.0.attn.hook_pattern`: softmax of the scores over keys,
    /// `[batch, query_pos, key_pos]`.
    Pattern,
    /// `blocks.0.attn.hook_z`: `pattern·v`, `[batch, pos, d_model]`.
    Z,
    /// `head.hook_in`: z flattened, `[batch, pos·d_model]` (interventions use the
    /// unflattened view `[batch, pos, d_model]`).
    HeadIn,
    /// `head.hook_out`: the logit, `[batch]` (interventions use `[batch, 1, 1]`).
    HeadOut,
}

impl HookName {
    /// Every hook, in forward order.
    pub const ALL: [HookName; 9] = [
        HookName::Embed,
        HookName::Q,
        HookName::K,
        HookName::V,
        HookName::AttnScores,
        HookName::Pattern,
        HookName::Z,
        HookName::HeadIn,
        HookName::HeadOut,
    ];

    /// The TransformerLens-style name.
    pub fn as_str(self) -> &'static str {
        match self {
            HookName::Embed => "hook_embed",
            HookName::Q => "blocks.0.attn.hook_q",
            HookName::K => "blocks.0.attn.hook_k",
            HookName::V => "blocks.0.attn.hook_v",
            HookName::AttnScores => "blocks.0.attn.hook_attn_scores",
            HookName::Pattern => "blocks.0.attn.hook_pattern",
            HookName::Z => "blocks.0.attn.hook_z",
            HookName::HeadIn => "head.hook_in",
            HookName::HeadOut => "head.hook_out",
        }
    }
}

impl fmt::Display for HookName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown hook name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hook {0:?}; known hooks: hook_embed, blocks.0.attn.hook_{{q,k,v,attn_scores,pattern,z}}, head.hook_{{in,out}}"
)]
pub struct UnknownHook(pub String);

impl FromStr for HookName {
    type Err = UnknownHook;
    /// Accepts the full names and TL's short forms (`q`, `pattern`, `attn_scores`, `z`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(h) = HookName::ALL.iter().find(|h| h.as_str() == s) {
            return Ok(*h);
        }
        Ok(match s {
            "embed" => HookName::Embed,
            "q" => HookName::Q,
            "k" => HookName::K,
            "v" => HookName::V,
            "attn_scores" | "scores" => HookName::AttnScores,
            "pattern" | "attn" => HookName::Pattern,
            "z" => HookName::Z,
            "head_in" => HookName::HeadIn,
            "head_out" | "logit" => HookName::HeadOut,
            _ => return Err(UnknownHook(s.to_string())),
        })
    }
}

/// Every intermediate of one run, at its natural shape (see [`HookName`]).
#[derive(Debug, Clone)]
pub struct ActivationCache {
    /// `[batch, pos, d_model]`
    pub embed: Tensor<3>,
    /// `[batch, pos, d_model]`
    pub q: Tensor<3>,
    /// `[batch, pos, d_model]`
    pub k: Tensor<3>,
    /// `[batch, pos, d_model]`
    pub v: Tensor<3>,
    /// `[batch, query_pos, key_pos]`
    pub attn_scores: Tensor<3>,
    /// `[batch, query_pos, key_pos]`
    pub pattern: Tensor<3>,
    /// `[batch, pos, d_model]`
    pub z: Tensor<3>,
    /// `[batch, pos·d_model]`
    pub head_in: Tensor<2>,
    /// `[batch]`
    pub head_out: Tensor<1>,
}

impl ActivationCache {
    /// The activation in the rank-3 view that interventions take: natural shape for all
    /// but `head.hook_in` (`[batch, pos, d_model]`) and `head.hook_out` (`[batch, 1, 1]`).
    pub fn get(&self, hook: HookName) -> Tensor<3> {
        match hook {
            HookName::Embed => self.embed.clone(),
            HookName::Q => self.q.clone(),
            HookName::K => self.k.clone(),
            HookName::V => self.v.clone(),
            HookName::AttnScores => self.attn_scores.clone(),
            HookName::Pattern => self.pattern.clone(),
            HookName::Z => self.z.clone(),
            HookName::HeadIn => {
                let [b, p, d] = self.z.dims();
                self.head_in.clone().reshape([b, p, d])
            }
            HookName::HeadOut => {
                let [b] = self.head_out.dims();
                self.head_out.clone().reshape([b, 1, 1])
            }
        }
    }

    /// The activation as flat `f32` values with its natural shape, for export.
    pub fn get_data(&self, hook: HookName) -> (Vec<usize>, Vec<f32>) {
        let data = match hook {
            HookName::HeadIn => self.head_in.to_data(),
            HookName::HeadOut => self.head_out.to_data(),
            other => self.get(other).to_data(),
        };
        let shape = data.shape().to_vec();
        (shape, data.try_to_vec::<f32>().unwrap_or_default())
    }
}

/// Which positions an intervention touches, along axis 1 (`pos`, or `query_pos` for
/// scores and pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Positions {
    /// Every position.
    All,
    /// Only these positions.
    Only(Vec<usize>),
}

/// What an intervention does to the activation.
#[derive(Debug, Clone)]
pub enum Action {
    /// Set it to zero.
    Zero,
    /// Set it to the given tensor, broadcast to the activation's rank-3 view: e.g.
    /// another input's activation `[batch, pos, last]` (activation patching) or a mean
    /// over a reference set `[1, pos, last]` (mean ablation).
    Set(Box<Tensor<3>>),
}

/// One change to one activation, applied when the forward reaches it; the rest of the
/// model runs from the changed value.
#[derive(Debug, Clone)]
pub struct Intervention {
    /// Where.
    pub hook: HookName,
    /// Which positions.
    pub positions: Positions,
    /// What.
    pub action: Action,
}

impl Intervention {
    /// Zero-ablate `hook` at `positions`.
    pub fn zero(hook: HookName, positions: Positions) -> Self {
        Intervention {
            hook,
            positions,
            action: Action::Zero,
        }
    }

    /// Set `hook` to `value` (broadcast) at `positions`: mean ablation with a `[1, pos, last]`
    /// mean, or any replacement.
    pub fn set(hook: HookName, positions: Positions, value: Tensor<3>) -> Self {
        Intervention {
            hook,
            positions,
            action: Action::Set(Box::new(value)),
        }
    }

    /// Activation patching: take `hook` at `positions` from another run's cache.
    pub fn patch(hook: HookName, positions: Positions, source: &ActivationCache) -> Self {
        Self::set(hook, positions, source.get(hook))
    }

    /// Applies this intervention to `act` (the rank-3 view of `self.hook`).
    pub(crate) fn apply(&self, act: Tensor<3>) -> Tensor<3> {
        let dims = act.dims();
        let value = match &self.action {
            Action::Zero => act.zeros_like(),
            Action::Set(v) => (**v).clone().expand(dims),
        };
        match &self.positions {
            Positions::All => value,
            Positions::Only(ps) => {
                let device = act.device();
                let keep: Vec<bool> = (0..dims[1]).map(|p| ps.contains(&p)).collect();
                let mask = Tensor::<1, Bool>::from_data(TensorData::new(keep, [dims[1]]), &device)
                    .reshape([1, dims[1], 1])
                    .expand(dims);
                act.mask_where(mask, value)
            }
        }
    }
}

/// Options for one instrumented run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Return every intermediate.
    pub cache: bool,
    /// Changes applied in order as the forward reaches each hook.
    pub interventions: Vec<Intervention>,
}

impl RunOptions {
    /// A run that caches everything and changes nothing.
    pub fn cached() -> Self {
        RunOptions {
            cache: true,
            interventions: Vec::new(),
        }
    }

    /// Applies the interventions on `hook` to its rank-3 view.
    pub(crate) fn apply(&self, hook: HookName, mut act: Tensor<3>) -> Tensor<3> {
        for i in self.interventions.iter().filter(|i| i.hook == hook) {
            act = i.apply(act);
        }
        act
    }

    pub(crate) fn touches(&self, hook: HookName) -> bool {
        self.interventions.iter().any(|i| i.hook == hook)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_names_are_the_transformerlens_list_and_parse_back() {
        let names: Vec<&str> = HookName::ALL.iter().map(|h| h.as_str()).collect();
        assert_eq!(
            names,
            [
                "hook_embed",
                "blocks.0.attn.hook_q",
                "blocks.0.attn.hook_k",
                "blocks.0.attn.hook_v",
                "blocks.0.attn.hook_attn_scores",
                "blocks.0.attn.hook_pattern",
                "blocks.0.attn.hook_z",
                "head.hook_in",
                "head.hook_out",
            ]
        );
        for h in HookName::ALL {
            assert_eq!(h.as_str().parse::<HookName>(), Ok(h));
        }
        assert_eq!("pattern".parse::<HookName>(), Ok(HookName::Pattern));
        let err = "blocks.1.attn.hook_q".parse::<HookName>().unwrap_err();
        assert!(err.to_string().contains("unknown hook"));
    }
}
