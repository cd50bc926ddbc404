//! Choosing the training device: a real GPU through wgpu when there is one, else the
//! CPU (Flex). The adapter is probed before any tensor exists: with no adapter wgpu
//! panics at the first operation.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What `--device` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware GPU adapter when one exists, else the CPU.
    Auto,
    /// wgpu, even on a software adapter (Mesa's lavapipe); an error when there is none.
    Gpu,
    /// The CPU (Flex backend).
    Cpu,
}

/// The device a run uses, as saved in `run.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `wgpu` or `flex`.
    pub backend: String,
    /// The adapter (wgpu) or `cpu`.
    pub name: String,
}

/// A chosen device.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// Where tensors go.
    pub device: Device,
    /// What it is.
    pub info: DeviceInfo,
    /// A one-line notice for the user (why `auto` fell back to the CPU).
    pub notice: Option<String>,
}

/// Resolves `choice` to a device, probing wgpu once.
pub fn choose(choice: DeviceChoice) -> Result<Chosen> {
    let cpu = |notice: Option<String>| Chosen {
        device: face_model::device::flex(),
        info: DeviceInfo {
            backend: "flex".into(),
            name: "cpu".into(),
        },
        notice,
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu(None)),
        DeviceChoice::Gpu => match face_model::device::wgpu() {
            Ok(w) => Ok(Chosen {
                device: w.device,
                info: DeviceInfo {
                    backend: "wgpu".into(),
                    name: w.adapter,
                },
                notice: w.software.then(|| {
                    "the wgpu adapter is a software renderer (CPU); expect it to be slow".into()
                }),
            }),
            Err(e) => Err(Error::Device(format!(
                "--device gpu: {e}; use --device cpu (or auto)"
            ))),
        },
        DeviceChoice::Auto => match face_model::device::wgpu() {
            Ok(w) if !w.software => Ok(Chosen {
                device: w.device,
                info: DeviceInfo {
                    backend: "wgpu".into(),
                    name: w.adapter,
                },
                notice: None,
            }),
            Ok(w) => Ok(cpu(Some(format!(
                "only a software GPU adapter ({}); training on the CPU (Flex). --device gpu forces it",
                w.adapter
            )))),
            Err(e) => Ok(cpu(Some(format!("{e}; training on the CPU (Flex)")))),
        },
    }
}
